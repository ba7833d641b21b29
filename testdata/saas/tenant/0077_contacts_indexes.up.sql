CREATE UNIQUE INDEX contacts_name_live_key ON contacts (customer_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX contacts_customer_idx ON contacts (customer_id);
