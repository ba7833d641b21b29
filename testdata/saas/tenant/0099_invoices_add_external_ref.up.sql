ALTER TABLE invoices ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE invoices SET external_ref = 'invoices-' || id WHERE external_ref IS NULL;
ALTER TABLE invoices ADD CONSTRAINT invoices_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
