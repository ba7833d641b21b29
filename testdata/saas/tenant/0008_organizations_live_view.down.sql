DROP VIEW organizations_live;
DROP FUNCTION organizations_live_count();
