CREATE UNIQUE INDEX attachments_name_live_key ON attachments (task_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX attachments_task_idx ON attachments (task_id);
