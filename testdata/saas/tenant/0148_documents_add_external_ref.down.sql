ALTER TABLE documents DROP COLUMN external_ref;
