DROP TRIGGER organizations_audit ON organizations;
