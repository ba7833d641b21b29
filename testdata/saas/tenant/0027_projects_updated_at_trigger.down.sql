DROP TRIGGER projects_set_updated_at ON projects;
