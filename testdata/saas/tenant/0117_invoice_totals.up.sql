CREATE FUNCTION invoice_recompute_total() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  inv bigint;
BEGIN
  inv := COALESCE(NEW.invoice_id, OLD.invoice_id);
  UPDATE invoices SET total = (SELECT COALESCE(sum(amount), 0) FROM invoice_lines WHERE invoice_id = inv) WHERE id = inv;
  RETURN NULL;
END;
$$;
CREATE TRIGGER invoice_lines_total AFTER INSERT OR UPDATE OR DELETE ON invoice_lines
  FOR EACH ROW EXECUTE FUNCTION invoice_recompute_total();
