CREATE UNIQUE INDEX customers_name_live_key ON customers (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX customers_organization_idx ON customers (organization_id);
