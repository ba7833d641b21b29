DROP INDEX teams_name_live_key;
DROP INDEX IF EXISTS teams_organization_idx;
