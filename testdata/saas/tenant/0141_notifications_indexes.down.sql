DROP INDEX notifications_name_live_key;
DROP INDEX IF EXISTS notifications_member_idx;
