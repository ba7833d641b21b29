DROP INDEX contacts_name_live_key;
DROP INDEX IF EXISTS contacts_customer_idx;
