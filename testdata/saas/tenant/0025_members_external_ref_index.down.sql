DROP INDEX members_external_ref_idx;
