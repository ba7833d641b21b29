ALTER TABLE labels ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE labels SET external_ref = 'labels-' || id WHERE external_ref IS NULL;
ALTER TABLE labels ADD CONSTRAINT labels_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
