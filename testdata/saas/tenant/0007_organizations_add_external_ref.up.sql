ALTER TABLE organizations ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE organizations SET external_ref = 'organizations-' || id WHERE external_ref IS NULL;
ALTER TABLE organizations ADD CONSTRAINT organizations_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
