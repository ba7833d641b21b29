DROP INDEX products_name_live_key;
DROP INDEX IF EXISTS products_organization_idx;
