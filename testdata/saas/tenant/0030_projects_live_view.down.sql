DROP VIEW projects_live;
DROP FUNCTION projects_live_count();
