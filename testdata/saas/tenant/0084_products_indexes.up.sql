CREATE UNIQUE INDEX products_name_live_key ON products (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX products_organization_idx ON products (organization_id);
