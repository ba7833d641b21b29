DROP TABLE invoice_lines;
