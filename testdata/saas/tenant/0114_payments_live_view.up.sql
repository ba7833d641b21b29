CREATE FUNCTION payments_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM payments WHERE deleted_at IS NULL;
$$;
CREATE VIEW payments_live AS SELECT * FROM payments WHERE deleted_at IS NULL;
