CREATE FUNCTION time_entries_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM time_entries WHERE deleted_at IS NULL;
$$;
CREATE VIEW time_entries_live AS SELECT * FROM time_entries WHERE deleted_at IS NULL;
