DROP INDEX account_memberships_account_handle;
CREATE UNIQUE INDEX account_memberships_account_handle ON account_memberships (account_id, handle);
DROP INDEX account_memberships_search_id;
CREATE UNIQUE INDEX account_memberships_search_id ON account_memberships (search_id);
