DROP VIEW labels_live;
DROP FUNCTION labels_live_count();
