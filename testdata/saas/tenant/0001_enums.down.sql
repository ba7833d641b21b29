DROP TYPE audit_action;
DROP TYPE invoice_state;
DROP TYPE member_role;
