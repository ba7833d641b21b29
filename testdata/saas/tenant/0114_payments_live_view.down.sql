DROP VIEW payments_live;
DROP FUNCTION payments_live_count();
