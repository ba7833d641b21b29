DROP TRIGGER price_lists_set_updated_at ON price_lists;
