CREATE UNIQUE INDEX invoices_name_live_key ON invoices (customer_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX invoices_customer_idx ON invoices (customer_id);
