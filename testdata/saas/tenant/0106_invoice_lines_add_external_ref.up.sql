ALTER TABLE invoice_lines ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE invoice_lines SET external_ref = 'invoice_lines-' || id WHERE external_ref IS NULL;
ALTER TABLE invoice_lines ADD CONSTRAINT invoice_lines_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
