DROP INDEX milestones_name_live_key;
DROP INDEX IF EXISTS milestones_project_idx;
