INSERT INTO organizations (name) SELECT 'Example ' || g FROM generate_series(1, 3) g;
