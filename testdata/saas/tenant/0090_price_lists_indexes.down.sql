DROP INDEX price_lists_name_live_key;
DROP INDEX IF EXISTS price_lists_organization_idx;
