DROP INDEX task_comments_name_live_key;
DROP INDEX IF EXISTS task_comments_task_idx;
