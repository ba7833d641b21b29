CREATE UNIQUE INDEX documents_name_live_key ON documents (project_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX documents_project_idx ON documents (project_id);
