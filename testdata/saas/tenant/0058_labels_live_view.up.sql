CREATE FUNCTION labels_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM labels WHERE deleted_at IS NULL;
$$;
CREATE VIEW labels_live AS SELECT * FROM labels WHERE deleted_at IS NULL;
