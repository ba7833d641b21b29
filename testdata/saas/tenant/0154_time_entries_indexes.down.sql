DROP INDEX time_entries_name_live_key;
DROP INDEX IF EXISTS time_entries_task_idx;
