DROP VIEW tasks_live;
DROP FUNCTION tasks_live_count();
