CREATE FUNCTION customers_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM customers WHERE deleted_at IS NULL;
$$;
CREATE VIEW customers_live AS SELECT * FROM customers WHERE deleted_at IS NULL;
