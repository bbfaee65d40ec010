-- Search by part of a name, per account (issue #24, point 6, the benchmark budget).
--
-- 000026 indexed people (users.search_key) once, for every account: a search found the hits
-- of every account and then looked each one up in account_memberships by its text user_id
-- (500 hits: ~1 ms to count them, ~2 ms to walk the account's handles for a page of 50).
-- Here the index is of memberships, and each account's memberships lie in one range of it:
--
--   account_memberships.search_id = accounts.number * 2^32 + n
--
-- where accounts.number is a small integer given to every account and n counts the
-- account's memberships in the order they were made (one past the highest still there).
-- The FTS5 trigram table members_search uses search_id as its rowid, so
-- `MATCH … AND rowid > lo AND rowid < hi ORDER BY rowid LIMIT 51` reads only this
-- account's hits from the index and stops after 51 (members::model::page). Search results
-- are therefore listed in the order the members joined, not by handle.
--
-- account_memberships.search_key is a copy of the member's users.search_key (written by the
-- application, folded: src/db/search.rs), kept in step by the triggers below.

ALTER TABLE accounts ADD COLUMN number INTEGER;
UPDATE accounts SET number = rowid;
CREATE UNIQUE INDEX accounts_number ON accounts (number);
CREATE TRIGGER accounts_number AFTER INSERT ON accounts WHEN NEW.number IS NULL
BEGIN
    UPDATE accounts SET number = (SELECT COALESCE(MAX(number), 0) + 1 FROM accounts)
    WHERE id = NEW.id;
END;

ALTER TABLE account_memberships ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
ALTER TABLE account_memberships ADD COLUMN search_id INTEGER;
UPDATE account_memberships SET
    search_key = COALESCE((SELECT u.search_key FROM users u
                           WHERE u.id = account_memberships.user_id), ''),
    search_id = (SELECT a.number * 4294967296 FROM accounts a
                 WHERE a.id = account_memberships.account_id) + rowid;
CREATE UNIQUE INDEX account_memberships_search_id ON account_memberships (search_id);

CREATE VIRTUAL TABLE members_search USING fts5(search_key, tokenize = 'trigram');
INSERT INTO members_search (rowid, search_key)
    SELECT search_id, search_key FROM account_memberships;

-- A new membership gets its key and the next number of its account; the UPDATE fires
-- account_memberships_search_set, which indexes it.
CREATE TRIGGER account_memberships_search_in AFTER INSERT ON account_memberships
BEGIN
    UPDATE account_memberships SET
        search_key = COALESCE((SELECT search_key FROM users WHERE id = NEW.user_id), ''),
        search_id = (SELECT COALESCE(MAX(m.search_id), a.number * 4294967296) + 1
                     FROM accounts a LEFT JOIN account_memberships m
                       ON m.search_id BETWEEN a.number * 4294967296
                                          AND a.number * 4294967296 + 4294967295
                     WHERE a.id = NEW.account_id)
    WHERE id = NEW.id;
END;

-- Memberships never move between accounts today; if one did, it would take the next
-- number of its new account.
CREATE TRIGGER account_memberships_search_move AFTER UPDATE OF account_id ON account_memberships
BEGIN
    UPDATE account_memberships SET
        search_id = (SELECT COALESCE(MAX(m.search_id), a.number * 4294967296) + 1
                     FROM accounts a LEFT JOIN account_memberships m
                       ON m.search_id BETWEEN a.number * 4294967296
                                          AND a.number * 4294967296 + 4294967295
                     WHERE a.id = NEW.account_id)
    WHERE id = NEW.id;
END;

CREATE TRIGGER account_memberships_search_set AFTER UPDATE OF search_id, search_key ON account_memberships
BEGIN
    DELETE FROM members_search WHERE rowid = OLD.search_id;
    INSERT INTO members_search (rowid, search_key) VALUES (NEW.search_id, NEW.search_key);
END;

CREATE TRIGGER account_memberships_search_out AFTER DELETE ON account_memberships
BEGIN
    DELETE FROM members_search WHERE rowid = OLD.search_id;
END;

-- A person's new name or address reaches each of their memberships.
CREATE TRIGGER users_search_key_copy AFTER UPDATE OF search_key ON users
BEGIN
    UPDATE account_memberships SET search_key = NEW.search_key WHERE user_id = NEW.id;
END;

-- The index of 000026 answered nothing else.
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;
