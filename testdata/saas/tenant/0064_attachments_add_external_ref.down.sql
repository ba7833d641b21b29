ALTER TABLE attachments DROP COLUMN external_ref;
