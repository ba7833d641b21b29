CREATE FUNCTION notifications_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM notifications WHERE deleted_at IS NULL;
$$;
CREATE VIEW notifications_live AS SELECT * FROM notifications WHERE deleted_at IS NULL;
