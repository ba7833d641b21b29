ALTER TABLE payments ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE payments SET external_ref = 'payments-' || id WHERE external_ref IS NULL;
ALTER TABLE payments ADD CONSTRAINT payments_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
