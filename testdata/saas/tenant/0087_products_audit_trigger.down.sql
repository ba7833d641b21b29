DROP TRIGGER products_audit ON products;
