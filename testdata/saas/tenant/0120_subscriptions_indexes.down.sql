DROP INDEX subscriptions_name_live_key;
DROP INDEX IF EXISTS subscriptions_customer_idx;
