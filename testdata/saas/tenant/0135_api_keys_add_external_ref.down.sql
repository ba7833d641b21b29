ALTER TABLE api_keys DROP COLUMN external_ref;
