CREATE INDEX api_keys_external_ref_idx ON api_keys (external_ref) WHERE external_ref IS NOT NULL;
