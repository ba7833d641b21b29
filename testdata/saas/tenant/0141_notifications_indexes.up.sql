CREATE UNIQUE INDEX notifications_name_live_key ON notifications (member_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX notifications_member_idx ON notifications (member_id);
