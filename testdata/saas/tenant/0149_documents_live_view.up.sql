CREATE FUNCTION documents_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM documents WHERE deleted_at IS NULL;
$$;
CREATE VIEW documents_live AS SELECT * FROM documents WHERE deleted_at IS NULL;
