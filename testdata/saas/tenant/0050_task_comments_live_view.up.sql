CREATE FUNCTION task_comments_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM task_comments WHERE deleted_at IS NULL;
$$;
CREATE VIEW task_comments_live AS SELECT * FROM task_comments WHERE deleted_at IS NULL;
