-- Search by part of a name, per account (issue #24, point 6, the benchmark budget).
--
-- 000026 indexed people (users.search_key) once, for every account: a search found the hits
-- of every account and then looked each one up in account_memberships. Here the index is of
-- memberships: a GIN trigram index on account_memberships.search_key, and each account's
-- memberships lie in one range of
--
--   account_memberships.search_id = accounts.number * 2^32 + n
--
-- (accounts.number a small integer given to every account, n from a sequence, so the
-- order the members joined). Search results are listed in that order, on both backends
-- (SQLite's FTS5 table uses search_id as its rowid: see the SQLite migration).
--
-- account_memberships.search_key is a copy of the member's users.search_key (written by the
-- application, folded: src/db/search.rs), kept in step by the triggers below.
CREATE SEQUENCE accounts_number_seq;
ALTER TABLE accounts ADD COLUMN number BIGINT NOT NULL DEFAULT nextval('accounts_number_seq');
ALTER SEQUENCE accounts_number_seq OWNED BY accounts.number;
CREATE UNIQUE INDEX accounts_number ON accounts (number);

CREATE SEQUENCE account_memberships_search_seq;
ALTER TABLE account_memberships ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
ALTER TABLE account_memberships ADD COLUMN search_id BIGINT;
UPDATE account_memberships m SET
    search_key = u.search_key,
    search_id = a.number * 4294967296 + nextval('account_memberships_search_seq') % 4294967296
FROM users u, accounts a
WHERE u.id = m.user_id AND a.id = m.account_id;
CREATE UNIQUE INDEX account_memberships_search_id ON account_memberships (search_id);
-- Not (account_id, search_key) with btree_gin: the planner then answered other statements'
-- `account_id = $1` from the GIN index (a bitmap of all 10,000 members of an account per
-- call): the workspaces list took 300 ms and the switcher 11 ms in the benchmark. A search
-- is held to its account by the search_id range (the unique index on search_id).
CREATE INDEX account_memberships_search_key_trgm
    ON account_memberships USING gin (search_key gin_trgm_ops);

CREATE FUNCTION atrium_membership_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_key := COALESCE((SELECT search_key FROM users WHERE id = NEW.user_id), '');
    IF TG_OP = 'INSERT' OR NEW.account_id IS DISTINCT FROM OLD.account_id THEN
        NEW.search_id := (SELECT number FROM accounts WHERE id = NEW.account_id) * 4294967296
            + nextval('account_memberships_search_seq') % 4294967296;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER account_memberships_search
    BEFORE INSERT OR UPDATE OF account_id, user_id ON account_memberships
    FOR EACH ROW EXECUTE FUNCTION atrium_membership_search();

-- A person's new name or address reaches each of their memberships.
CREATE FUNCTION atrium_user_search_key_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_memberships SET search_key = NEW.search_key WHERE user_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER users_search_key_copy AFTER UPDATE OF search_key ON users
    FOR EACH ROW WHEN (OLD.search_key IS DISTINCT FROM NEW.search_key)
    EXECUTE FUNCTION atrium_user_search_key_copy();

-- The index of 000026 answered nothing else.
DROP INDEX users_search_key_trgm;
