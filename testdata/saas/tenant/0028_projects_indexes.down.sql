DROP INDEX projects_name_live_key;
DROP INDEX IF EXISTS projects_team_idx;
