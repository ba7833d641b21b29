CREATE FUNCTION price_lists_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM price_lists WHERE deleted_at IS NULL;
$$;
CREATE VIEW price_lists_live AS SELECT * FROM price_lists WHERE deleted_at IS NULL;
