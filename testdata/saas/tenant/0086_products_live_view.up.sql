CREATE FUNCTION products_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM products WHERE deleted_at IS NULL;
$$;
CREATE VIEW products_live AS SELECT * FROM products WHERE deleted_at IS NULL;
