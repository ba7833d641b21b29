-- Built without blocking writes on a live table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_created_at_idx ON tasks (created_at DESC);
