ALTER TABLE webhooks DROP COLUMN external_ref;
