DROP VIEW subscriptions_live;
DROP FUNCTION subscriptions_live_count();
