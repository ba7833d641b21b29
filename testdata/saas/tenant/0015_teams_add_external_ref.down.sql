ALTER TABLE teams DROP COLUMN external_ref;
