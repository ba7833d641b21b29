DROP INDEX invoices_name_live_key;
DROP INDEX IF EXISTS invoices_customer_idx;
