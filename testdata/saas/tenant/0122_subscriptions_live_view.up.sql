CREATE FUNCTION subscriptions_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM subscriptions WHERE deleted_at IS NULL;
$$;
CREATE VIEW subscriptions_live AS SELECT * FROM subscriptions WHERE deleted_at IS NULL;
