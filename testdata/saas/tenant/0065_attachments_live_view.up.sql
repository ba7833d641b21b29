CREATE FUNCTION attachments_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM attachments WHERE deleted_at IS NULL;
$$;
CREATE VIEW attachments_live AS SELECT * FROM attachments WHERE deleted_at IS NULL;
