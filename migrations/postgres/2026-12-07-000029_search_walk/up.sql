-- A search's page on PostgreSQL walks the account's range of the search-id index in order
-- and stops after a page of hits (issue #24, point 6, the benchmark budget), as SQLite's
-- FTS5 table does by rowid.
--
-- With search_key in the index the walk reads nothing but the index (an index-only scan:
-- the LIKE is checked on the index entry). Without it, the statement's generic plan (which
-- PostgreSQL keeps for a prepared statement after five executions) had no cheap ordered
-- path: it took every hit of the pattern from the trigram index, in every account, ANDed
-- with the whole range, joined them all to users and sorted them (bench, "ovela", 500 of
-- 10,001 members: 3.2 ms a page against 0.5 ms walked). The trigram index stays for the
-- people pickers, which ask for a few members by handle.
DROP INDEX account_memberships_search_id;
CREATE UNIQUE INDEX account_memberships_search_id
    ON account_memberships (search_id) INCLUDE (user_id, role, search_key);
