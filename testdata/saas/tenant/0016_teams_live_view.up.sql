CREATE FUNCTION teams_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM teams WHERE deleted_at IS NULL;
$$;
CREATE VIEW teams_live AS SELECT * FROM teams WHERE deleted_at IS NULL;
