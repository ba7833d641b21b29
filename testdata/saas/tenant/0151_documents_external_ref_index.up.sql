CREATE INDEX documents_external_ref_idx ON documents (external_ref) WHERE external_ref IS NOT NULL;
