DROP INDEX webhooks_name_live_key;
DROP INDEX IF EXISTS webhooks_organization_idx;
