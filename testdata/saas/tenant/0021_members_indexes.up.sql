CREATE UNIQUE INDEX members_name_live_key ON members (team_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX members_team_idx ON members (team_id);
