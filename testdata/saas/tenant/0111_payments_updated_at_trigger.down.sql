DROP TRIGGER payments_set_updated_at ON payments;
