CREATE UNIQUE INDEX invoice_lines_name_live_key ON invoice_lines (invoice_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id);
