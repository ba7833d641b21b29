DROP VIEW customers_live;
DROP FUNCTION customers_live_count();
