DROP FUNCTION audit_row();
DROP TABLE audit_log;
DROP FUNCTION set_updated_at();
