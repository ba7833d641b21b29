DROP INDEX contacts_external_ref_idx;
