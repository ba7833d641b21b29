DROP INDEX documents_search_idx;
DROP TRIGGER documents_search ON documents;
DROP FUNCTION documents_search_update();
