DROP INDEX api_keys_name_live_key;
DROP INDEX IF EXISTS api_keys_member_idx;
