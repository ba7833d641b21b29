DROP TRIGGER teams_set_updated_at ON teams;
