DELETE FROM organizations WHERE name LIKE 'Example %';
