CREATE INDEX members_external_ref_idx ON members (external_ref) WHERE external_ref IS NOT NULL;
