DROP INDEX payments_name_live_key;
DROP INDEX IF EXISTS payments_invoice_idx;
