ALTER TABLE price_lists ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE price_lists SET external_ref = 'price_lists-' || id WHERE external_ref IS NULL;
ALTER TABLE price_lists ADD CONSTRAINT price_lists_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
