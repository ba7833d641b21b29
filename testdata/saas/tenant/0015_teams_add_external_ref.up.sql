ALTER TABLE teams ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE teams SET external_ref = 'teams-' || id WHERE external_ref IS NULL;
ALTER TABLE teams ADD CONSTRAINT teams_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
