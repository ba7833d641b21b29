ALTER TABLE attachments ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE attachments SET external_ref = 'attachments-' || id WHERE external_ref IS NULL;
ALTER TABLE attachments ADD CONSTRAINT attachments_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
