ALTER TABLE members ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE members SET external_ref = 'members-' || id WHERE external_ref IS NULL;
ALTER TABLE members ADD CONSTRAINT members_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
