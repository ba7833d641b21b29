ALTER TABLE task_comments DROP COLUMN external_ref;
