ALTER TABLE projects DROP COLUMN external_ref;
