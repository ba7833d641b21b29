DROP VIEW invoices_live;
DROP FUNCTION invoices_live_count();
