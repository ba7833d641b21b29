ALTER TABLE webhooks ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE webhooks SET external_ref = 'webhooks-' || id WHERE external_ref IS NULL;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
