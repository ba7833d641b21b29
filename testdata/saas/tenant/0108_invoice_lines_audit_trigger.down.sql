DROP TRIGGER invoice_lines_audit ON invoice_lines;
