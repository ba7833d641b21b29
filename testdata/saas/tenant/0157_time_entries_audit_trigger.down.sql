DROP TRIGGER time_entries_audit ON time_entries;
