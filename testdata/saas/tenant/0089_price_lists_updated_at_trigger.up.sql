CREATE TRIGGER price_lists_set_updated_at BEFORE UPDATE ON price_lists
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
