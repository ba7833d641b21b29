DROP TRIGGER members_audit ON members;
