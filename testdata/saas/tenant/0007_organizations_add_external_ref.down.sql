ALTER TABLE organizations DROP COLUMN external_ref;
