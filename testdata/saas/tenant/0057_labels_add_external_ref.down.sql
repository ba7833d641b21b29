ALTER TABLE labels DROP COLUMN external_ref;
