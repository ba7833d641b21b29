DELETE FROM labels WHERE name LIKE 'Example %';
