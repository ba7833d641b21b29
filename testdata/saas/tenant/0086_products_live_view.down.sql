DROP VIEW products_live;
DROP FUNCTION products_live_count();
