CREATE INDEX invoice_lines_external_ref_idx ON invoice_lines (external_ref) WHERE external_ref IS NOT NULL;
