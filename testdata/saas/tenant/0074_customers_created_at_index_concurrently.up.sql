-- Built without blocking writes on a live table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS customers_created_at_idx ON customers (created_at DESC);
