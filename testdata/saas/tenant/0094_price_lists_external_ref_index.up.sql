CREATE INDEX price_lists_external_ref_idx ON price_lists (external_ref) WHERE external_ref IS NOT NULL;
