-- Record when each migration was applied, as some products do.
ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS applied_at timestamptz DEFAULT now();
