CREATE UNIQUE INDEX subscriptions_name_live_key ON subscriptions (customer_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX subscriptions_customer_idx ON subscriptions (customer_id);
