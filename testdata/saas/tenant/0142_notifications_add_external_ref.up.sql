ALTER TABLE notifications ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE notifications SET external_ref = 'notifications-' || id WHERE external_ref IS NULL;
ALTER TABLE notifications ADD CONSTRAINT notifications_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
