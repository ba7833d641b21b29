INSERT INTO price_lists (name, organization_id) SELECT 'Example ' || g, p.id FROM generate_series(1, 3) g, (SELECT id FROM organizations ORDER BY id LIMIT 1) p;
