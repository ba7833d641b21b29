DROP INDEX invoice_lines_name_live_key;
DROP INDEX IF EXISTS invoice_lines_invoice_idx;
