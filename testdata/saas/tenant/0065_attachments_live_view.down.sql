DROP VIEW attachments_live;
DROP FUNCTION attachments_live_count();
