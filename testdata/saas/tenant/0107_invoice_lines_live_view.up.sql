CREATE FUNCTION invoice_lines_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM invoice_lines WHERE deleted_at IS NULL;
$$;
CREATE VIEW invoice_lines_live AS SELECT * FROM invoice_lines WHERE deleted_at IS NULL;
