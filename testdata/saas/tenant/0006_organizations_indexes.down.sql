DROP INDEX organizations_name_live_key;
DROP INDEX IF EXISTS organizations__idx;
