DROP TRIGGER contacts_audit ON contacts;
