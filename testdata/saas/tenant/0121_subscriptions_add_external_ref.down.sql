ALTER TABLE subscriptions DROP COLUMN external_ref;
