-- Built without blocking writes on a live table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhooks_created_at_idx ON webhooks (created_at DESC);
