DROP VIEW invoice_lines_live;
DROP FUNCTION invoice_lines_live_count();
