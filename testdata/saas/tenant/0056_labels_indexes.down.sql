DROP INDEX labels_name_live_key;
DROP INDEX IF EXISTS labels_project_idx;
