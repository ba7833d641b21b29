CREATE UNIQUE INDEX tasks_name_live_key ON tasks (project_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX tasks_project_idx ON tasks (project_id);
