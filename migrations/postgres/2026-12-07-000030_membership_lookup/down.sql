ALTER TABLE account_memberships DROP CONSTRAINT account_memberships_account_id_user_id_key;
ALTER TABLE account_memberships ADD CONSTRAINT account_memberships_account_id_user_id_key
    UNIQUE (account_id, user_id);
