DROP TRIGGER task_comments_audit ON task_comments;
