ALTER TABLE schema_migrations DROP COLUMN IF EXISTS applied_at;
