DROP TRIGGER customers_audit ON customers;
