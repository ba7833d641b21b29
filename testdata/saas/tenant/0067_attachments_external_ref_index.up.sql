CREATE INDEX attachments_external_ref_idx ON attachments (external_ref) WHERE external_ref IS NOT NULL;
