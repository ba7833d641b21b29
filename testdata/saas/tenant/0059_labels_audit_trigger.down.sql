DROP TRIGGER labels_audit ON labels;
