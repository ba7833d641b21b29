CREATE FUNCTION milestones_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM milestones WHERE deleted_at IS NULL;
$$;
CREATE VIEW milestones_live AS SELECT * FROM milestones WHERE deleted_at IS NULL;
