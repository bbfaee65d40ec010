DROP TRIGGER users_search_key_copy;
DROP TRIGGER account_memberships_search_out;
DROP TRIGGER account_memberships_search_set;
DROP TRIGGER account_memberships_search_move;
DROP TRIGGER account_memberships_search_in;
DROP TABLE members_search;
DROP INDEX account_memberships_search_id;
ALTER TABLE account_memberships DROP COLUMN search_id;
ALTER TABLE account_memberships DROP COLUMN search_key;
DROP TRIGGER accounts_number;
DROP INDEX accounts_number;
ALTER TABLE accounts DROP COLUMN number;

CREATE VIRTUAL TABLE users_search USING fts5(search_key, user_id UNINDEXED, tokenize = 'trigram');
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (search_key, user_id) VALUES (new.search_key, new.id);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF search_key ON users BEGIN
    DELETE FROM users_search WHERE user_id = old.id;
    INSERT INTO users_search (search_key, user_id) VALUES (new.search_key, new.id);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_search WHERE user_id = old.id;
END;
INSERT INTO users_search (search_key, user_id) SELECT search_key, id FROM users;
