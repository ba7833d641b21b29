DROP INDEX tasks_name_live_key;
DROP INDEX IF EXISTS tasks_project_idx;
