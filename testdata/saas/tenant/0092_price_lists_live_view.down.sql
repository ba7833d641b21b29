DROP VIEW price_lists_live;
DROP FUNCTION price_lists_live_count();
