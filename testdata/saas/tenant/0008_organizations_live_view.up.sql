CREATE FUNCTION organizations_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM organizations WHERE deleted_at IS NULL;
$$;
CREATE VIEW organizations_live AS SELECT * FROM organizations WHERE deleted_at IS NULL;
