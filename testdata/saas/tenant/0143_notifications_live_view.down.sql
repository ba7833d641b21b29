DROP VIEW notifications_live;
DROP FUNCTION notifications_live_count();
