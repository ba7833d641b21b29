ALTER TABLE projects ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE projects SET external_ref = 'projects-' || id WHERE external_ref IS NULL;
ALTER TABLE projects ADD CONSTRAINT projects_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
