DROP TRIGGER projects_audit ON projects;
