-- Built without blocking writes on a live table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS teams_created_at_idx ON teams (created_at DESC);
