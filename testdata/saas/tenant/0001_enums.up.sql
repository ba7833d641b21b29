-- Enumerations used across the product.
CREATE TYPE member_role AS ENUM ('owner', 'admin', 'member');
CREATE TYPE invoice_state AS ENUM ('draft', 'sent', 'paid');
CREATE TYPE audit_action AS ENUM ('insert', 'update', 'delete');
