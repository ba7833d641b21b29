-- Built without blocking writes on a live table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS time_entries_created_at_idx ON time_entries (created_at DESC);
