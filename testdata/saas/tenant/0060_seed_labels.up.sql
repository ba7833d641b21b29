INSERT INTO labels (name, project_id) SELECT 'Example ' || g, p.id FROM generate_series(1, 3) g, (SELECT id FROM projects ORDER BY id LIMIT 1) p;
