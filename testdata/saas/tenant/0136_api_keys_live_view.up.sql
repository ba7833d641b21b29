CREATE FUNCTION api_keys_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM api_keys WHERE deleted_at IS NULL;
$$;
CREATE VIEW api_keys_live AS SELECT * FROM api_keys WHERE deleted_at IS NULL;
