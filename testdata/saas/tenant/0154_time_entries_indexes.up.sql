CREATE UNIQUE INDEX time_entries_name_live_key ON time_entries (task_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX time_entries_task_idx ON time_entries (task_id);
