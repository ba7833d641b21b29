ALTER TABLE time_entries ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE time_entries SET external_ref = 'time_entries-' || id WHERE external_ref IS NULL;
ALTER TABLE time_entries ADD CONSTRAINT time_entries_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
