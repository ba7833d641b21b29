DROP INDEX documents_name_live_key;
DROP INDEX IF EXISTS documents_project_idx;
