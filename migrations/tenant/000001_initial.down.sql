DROP TABLE roles_permissions_link;
DROP TABLE users;
DROP TABLE permissions;
DROP TABLE roles;
