DROP TRIGGER payments_audit ON payments;
