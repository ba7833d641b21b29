ALTER TABLE notifications DROP COLUMN external_ref;
