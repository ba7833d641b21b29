ALTER TABLE milestones ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE milestones SET external_ref = 'milestones-' || id WHERE external_ref IS NULL;
ALTER TABLE milestones ADD CONSTRAINT milestones_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
