ALTER TABLE milestones DROP COLUMN external_ref;
