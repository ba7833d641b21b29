DROP TRIGGER teams_audit ON teams;
