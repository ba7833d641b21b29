-- Second tenant migration, the kind a fleet upgrade rolls out: look users up by name.
CREATE INDEX users_last_first_name_idx ON users (last_name, first_name);
