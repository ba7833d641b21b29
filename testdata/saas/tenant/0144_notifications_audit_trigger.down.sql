DROP TRIGGER notifications_audit ON notifications;
