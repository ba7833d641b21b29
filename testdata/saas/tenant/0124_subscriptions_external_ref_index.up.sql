CREATE INDEX subscriptions_external_ref_idx ON subscriptions (external_ref) WHERE external_ref IS NOT NULL;
