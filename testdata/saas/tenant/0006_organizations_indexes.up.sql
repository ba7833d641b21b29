CREATE UNIQUE INDEX organizations_name_live_key ON organizations (lower(name)) WHERE deleted_at IS NULL;
