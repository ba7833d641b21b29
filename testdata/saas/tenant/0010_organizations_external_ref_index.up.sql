CREATE INDEX organizations_external_ref_idx ON organizations (external_ref) WHERE external_ref IS NOT NULL;
