DROP TRIGGER members_set_updated_at ON members;
