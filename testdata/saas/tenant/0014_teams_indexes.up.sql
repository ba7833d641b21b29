CREATE UNIQUE INDEX teams_name_live_key ON teams (organization_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX teams_organization_idx ON teams (organization_id);
