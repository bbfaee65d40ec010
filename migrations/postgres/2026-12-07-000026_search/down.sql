DROP INDEX users_search_key_trgm;
ALTER TABLE users DROP COLUMN search_key;
