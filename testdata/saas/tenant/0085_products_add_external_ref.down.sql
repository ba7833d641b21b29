ALTER TABLE products DROP COLUMN external_ref;
