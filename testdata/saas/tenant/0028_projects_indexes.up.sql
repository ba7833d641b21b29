CREATE UNIQUE INDEX projects_name_live_key ON projects (team_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX projects_team_idx ON projects (team_id);
