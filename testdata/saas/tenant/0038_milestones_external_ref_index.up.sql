CREATE INDEX milestones_external_ref_idx ON milestones (external_ref) WHERE external_ref IS NOT NULL;
