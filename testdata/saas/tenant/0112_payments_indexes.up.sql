CREATE UNIQUE INDEX payments_name_live_key ON payments (invoice_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
