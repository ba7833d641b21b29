DROP VIEW webhooks_live;
DROP FUNCTION webhooks_live_count();
