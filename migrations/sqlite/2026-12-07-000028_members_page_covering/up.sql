-- The members page's index covers what the page reads of a membership (issue #24, point
-- 10: the page's CPU): walking (account_id, handle) it also needs user_id (to join the
-- user) and role; with both in the index the 51 lookups of membership rows go away (page 1
-- of 10,001 members: 77 -> 68 µs for the statement). SQLite has no INCLUDE, so they are
-- key columns; the index is no longer UNIQUE, which (account_id, handle) stays without it:
-- (account_id, user_id) is unique and a user's handle is unique and never changes.
DROP INDEX account_memberships_account_handle;
CREATE INDEX account_memberships_account_handle
    ON account_memberships (account_id, handle, user_id, role);

-- The same for a search's page: its hits are read by search id, and the index carries the
-- membership's user_id and role. search_id stays unique: the FTS5 table members_search,
-- whose rowid it is, refuses a second row with the same one.
DROP INDEX account_memberships_search_id;
CREATE UNIQUE INDEX account_memberships_search_id
    ON account_memberships (search_id, user_id, role);
