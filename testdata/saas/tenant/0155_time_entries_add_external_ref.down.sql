ALTER TABLE time_entries DROP COLUMN external_ref;
