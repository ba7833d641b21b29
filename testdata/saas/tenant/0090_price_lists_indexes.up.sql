CREATE UNIQUE INDEX price_lists_name_live_key ON price_lists (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX price_lists_organization_idx ON price_lists (organization_id);
