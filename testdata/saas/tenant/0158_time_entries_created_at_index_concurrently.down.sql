DROP INDEX CONCURRENTLY IF EXISTS time_entries_created_at_idx;
