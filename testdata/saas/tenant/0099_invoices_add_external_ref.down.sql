ALTER TABLE invoices DROP COLUMN external_ref;
