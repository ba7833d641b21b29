CREATE INDEX task_comments_external_ref_idx ON task_comments (external_ref) WHERE external_ref IS NOT NULL;
