DROP VIEW members_live;
DROP FUNCTION members_live_count();
