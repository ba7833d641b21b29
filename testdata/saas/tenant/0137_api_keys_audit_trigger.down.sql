DROP TRIGGER api_keys_audit ON api_keys;
