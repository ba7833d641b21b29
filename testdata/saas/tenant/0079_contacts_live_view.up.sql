CREATE FUNCTION contacts_live_count() RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT count(*) FROM contacts WHERE deleted_at IS NULL;
$$;
CREATE VIEW contacts_live AS SELECT * FROM contacts WHERE deleted_at IS NULL;
