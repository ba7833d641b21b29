DELETE FROM price_lists WHERE name LIKE 'Example %';
