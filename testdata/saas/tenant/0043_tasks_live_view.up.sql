CREATE FUNCTION tasks_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM tasks WHERE deleted_at IS NULL;
$$;
CREATE VIEW tasks_live AS SELECT * FROM tasks WHERE deleted_at IS NULL;
