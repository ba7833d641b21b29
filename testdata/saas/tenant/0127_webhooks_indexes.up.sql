CREATE UNIQUE INDEX webhooks_name_live_key ON webhooks (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX webhooks_organization_idx ON webhooks (organization_id);
