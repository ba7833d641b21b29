DROP VIEW contacts_live;
DROP FUNCTION contacts_live_count();
