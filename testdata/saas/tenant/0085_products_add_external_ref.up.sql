ALTER TABLE products ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE products SET external_ref = 'products-' || id WHERE external_ref IS NULL;
ALTER TABLE products ADD CONSTRAINT products_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
