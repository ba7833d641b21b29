CREATE FUNCTION documents_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search := to_tsvector('simple', coalesce(NEW.title, '') || ' ' || coalesce(NEW.body, ''));
  RETURN NEW;
END;
$$;
CREATE TRIGGER documents_search BEFORE INSERT OR UPDATE OF title, body ON documents
  FOR EACH ROW EXECUTE FUNCTION documents_search_update();
CREATE INDEX documents_search_idx ON documents USING gin (search);
