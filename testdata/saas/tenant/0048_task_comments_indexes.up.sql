CREATE UNIQUE INDEX task_comments_name_live_key ON task_comments (task_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX task_comments_task_idx ON task_comments (task_id);
