CREATE UNIQUE INDEX api_keys_name_live_key ON api_keys (member_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX api_keys_member_idx ON api_keys (member_id);
