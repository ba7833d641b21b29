CREATE INDEX contacts_external_ref_idx ON contacts (external_ref) WHERE external_ref IS NOT NULL;
