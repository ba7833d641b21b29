DROP TABLE shared_users;
