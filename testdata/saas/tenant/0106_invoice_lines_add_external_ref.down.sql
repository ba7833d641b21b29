ALTER TABLE invoice_lines DROP COLUMN external_ref;
