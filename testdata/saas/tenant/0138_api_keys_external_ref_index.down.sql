DROP INDEX api_keys_external_ref_idx;
