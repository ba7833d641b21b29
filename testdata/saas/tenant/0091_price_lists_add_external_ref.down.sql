ALTER TABLE price_lists DROP COLUMN external_ref;
