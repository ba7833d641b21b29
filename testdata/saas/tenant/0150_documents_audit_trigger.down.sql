DROP TRIGGER documents_audit ON documents;
