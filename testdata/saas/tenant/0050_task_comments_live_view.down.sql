DROP VIEW task_comments_live;
DROP FUNCTION task_comments_live_count();
