CREATE TRIGGER labels_set_updated_at BEFORE UPDATE ON labels
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
