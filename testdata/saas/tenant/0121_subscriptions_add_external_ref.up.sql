ALTER TABLE subscriptions ADD COLUMN external_ref text;
-- Data migration: backfill references for existing rows.
UPDATE subscriptions SET external_ref = 'subscriptions-' || id WHERE external_ref IS NULL;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_external_ref_format CHECK (external_ref ~ '^[a-z_]+-[0-9]+$' OR external_ref IS NULL);
