DROP VIEW milestones_live;
DROP FUNCTION milestones_live_count();
