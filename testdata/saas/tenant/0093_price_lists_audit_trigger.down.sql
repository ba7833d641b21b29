DROP TRIGGER price_lists_audit ON price_lists;
