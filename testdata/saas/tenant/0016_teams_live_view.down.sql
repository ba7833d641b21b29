DROP VIEW teams_live;
DROP FUNCTION teams_live_count();
