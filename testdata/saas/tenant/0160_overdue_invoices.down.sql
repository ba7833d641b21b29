DROP VIEW overdue_invoices;
