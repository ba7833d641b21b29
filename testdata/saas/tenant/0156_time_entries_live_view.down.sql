DROP VIEW time_entries_live;
DROP FUNCTION time_entries_live_count();
