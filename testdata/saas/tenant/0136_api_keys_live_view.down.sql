DROP VIEW api_keys_live;
DROP FUNCTION api_keys_live_count();
