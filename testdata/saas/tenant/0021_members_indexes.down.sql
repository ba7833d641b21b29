DROP INDEX members_name_live_key;
DROP INDEX IF EXISTS members_team_idx;
