CREATE UNIQUE INDEX labels_name_live_key ON labels (project_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX labels_project_idx ON labels (project_id);
