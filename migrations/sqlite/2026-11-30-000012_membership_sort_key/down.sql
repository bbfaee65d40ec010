DROP INDEX account_memberships_account_handle;
ALTER TABLE account_memberships DROP COLUMN handle;
