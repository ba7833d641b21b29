ALTER TABLE task_comments ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE task_comments SET external_ref = 'task_comments-' || id WHERE external_ref IS NULL;
ALTER TABLE task_comments ADD CONSTRAINT task_comments_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
