CREATE FUNCTION webhooks_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM webhooks WHERE deleted_at IS NULL;
$$;
CREATE VIEW webhooks_live AS SELECT * FROM webhooks WHERE deleted_at IS NULL;
