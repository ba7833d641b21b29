DROP TRIGGER attachments_audit ON attachments;
