ALTER TYPE member_role ADD VALUE IF NOT EXISTS 'billing' AFTER 'admin';
