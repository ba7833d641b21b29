ALTER TABLE customers ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE customers SET external_ref = 'customers-' || id WHERE external_ref IS NULL;
ALTER TABLE customers ADD CONSTRAINT customers_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
