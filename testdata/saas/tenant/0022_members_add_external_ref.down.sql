ALTER TABLE members DROP COLUMN external_ref;
