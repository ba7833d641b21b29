DROP VIEW documents_live;
DROP FUNCTION documents_live_count();
