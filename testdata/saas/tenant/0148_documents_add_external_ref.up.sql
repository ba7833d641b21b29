ALTER TABLE documents ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE documents SET external_ref = 'documents-' || id WHERE external_ref IS NULL;
ALTER TABLE documents ADD CONSTRAINT documents_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
