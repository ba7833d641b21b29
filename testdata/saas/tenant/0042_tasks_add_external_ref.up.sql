ALTER TABLE tasks ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE tasks SET external_ref = 'tasks-' || id WHERE external_ref IS NULL;
ALTER TABLE tasks ADD CONSTRAINT tasks_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
