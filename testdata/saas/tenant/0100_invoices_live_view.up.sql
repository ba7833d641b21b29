CREATE FUNCTION invoices_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM invoices WHERE deleted_at IS NULL;
$$;
CREATE VIEW invoices_live AS SELECT * FROM invoices WHERE deleted_at IS NULL;
