ALTER TABLE api_keys ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE api_keys SET external_ref = 'api_keys-' || id WHERE external_ref IS NULL;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
