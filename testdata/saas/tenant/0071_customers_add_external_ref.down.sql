ALTER TABLE customers DROP COLUMN external_ref;
