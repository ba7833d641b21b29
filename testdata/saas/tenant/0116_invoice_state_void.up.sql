ALTER TYPE invoice_state ADD VALUE IF NOT EXISTS 'void';
ALTER TYPE invoice_state ADD VALUE IF NOT EXISTS 'overdue' BEFORE 'paid';
