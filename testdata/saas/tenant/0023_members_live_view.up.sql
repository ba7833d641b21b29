CREATE FUNCTION members_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM members WHERE deleted_at IS NULL;
$$;
CREATE VIEW members_live AS SELECT * FROM members WHERE deleted_at IS NULL;
