CREATE UNIQUE INDEX milestones_name_live_key ON milestones (project_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX milestones_project_idx ON milestones (project_id);
