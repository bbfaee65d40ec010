-- Search by any part of a person's name, handle or e-mail (issue #24, point 6).
--
-- users.search_key is "handle first last email", lower-cased with accents stripped (NFKD,
-- combining marks dropped: src/db/search.rs). SQL cannot strip accents, so the key is
-- written by the application wherever a user is created or their name or address changes,
-- and rows the migration leaves at '' are filled in by the migration runner
-- (db::migrate -> db::search::backfill_users) before the server serves a request.
ALTER TABLE users ADD COLUMN search_key TEXT NOT NULL DEFAULT '';

-- The index: an FTS5 table with the trigram tokenizer (a quoted phrase of 3 or more
-- characters matches every key holding it as a substring). It is a plain FTS5 table keyed
-- by the user's id (not by users.rowid, which VACUUM may renumber), kept in step with
-- users.search_key by the triggers below.
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
