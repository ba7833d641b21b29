DROP INDEX CONCURRENTLY IF EXISTS customers_created_at_idx;
