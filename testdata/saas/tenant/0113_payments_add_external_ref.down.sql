ALTER TABLE payments DROP COLUMN external_ref;
