ALTER TABLE contacts DROP COLUMN external_ref;
