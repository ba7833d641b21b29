CREATE FUNCTION projects_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM projects WHERE deleted_at IS NULL;
$$;
CREATE VIEW projects_live AS SELECT * FROM projects WHERE deleted_at IS NULL;
