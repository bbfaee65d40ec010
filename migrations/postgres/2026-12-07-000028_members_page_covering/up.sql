-- The members page's index covers what the page reads of a membership (issue #24, point
-- 10: the page's CPU): user_id (to join the user) and role, carried in the index, so an
-- index-only scan serves the walk by (account_id, handle).
DROP INDEX account_memberships_account_handle;
CREATE UNIQUE INDEX account_memberships_account_handle
    ON account_memberships (account_id, handle) INCLUDE (user_id, role);

-- The same for a search's page, read by search id.
DROP INDEX account_memberships_search_id;
CREATE UNIQUE INDEX account_memberships_search_id
    ON account_memberships (search_id) INCLUDE (user_id, role);
