UPDATE invoices SET state = 'overdue' WHERE state = 'sent' AND created_at < now() - interval '30 days';
CREATE VIEW overdue_invoices AS
  SELECT i.id, i.number, c.name AS customer, i.total
  FROM invoices i JOIN customers c ON c.id = i.customer_id
  WHERE i.state = 'overdue' AND i.deleted_at IS NULL;
GRANT SELECT ON overdue_invoices TO PUBLIC;
