DROP INDEX users_last_first_name_idx;
