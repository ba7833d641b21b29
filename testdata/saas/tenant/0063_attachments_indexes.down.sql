DROP INDEX attachments_name_live_key;
DROP INDEX IF EXISTS attachments_task_idx;
