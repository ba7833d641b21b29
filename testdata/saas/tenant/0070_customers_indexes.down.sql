DROP INDEX customers_name_live_key;
DROP INDEX IF EXISTS customers_organization_idx;
