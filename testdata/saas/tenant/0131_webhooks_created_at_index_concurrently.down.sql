DROP INDEX CONCURRENTLY IF EXISTS webhooks_created_at_idx;
