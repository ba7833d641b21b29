ALTER TABLE contacts ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE contacts SET external_ref = 'contacts-' || id WHERE external_ref IS NULL;
ALTER TABLE contacts ADD CONSTRAINT contacts_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
