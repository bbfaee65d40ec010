DROP INDEX account_memberships_search_id;
CREATE UNIQUE INDEX account_memberships_search_id
    ON account_memberships (search_id) INCLUDE (user_id, role);
