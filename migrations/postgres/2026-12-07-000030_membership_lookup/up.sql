-- "Does this user reach this workspace?" asks for the user's membership of the workspace's
-- account (its role) once per workspace: the switcher, the workspaces list and its count.
-- The unique constraint (account_id, user_id) did not carry the role, so each lookup had
-- to visit the table, and PostgreSQL preferred the index (account_id, handle), which
-- carries user_id and role (000028), scanning the account's memberships by handle until it
-- met the user's: ~1,500 index entries per workspace in the benchmark's 10,001-member
-- account, 96 ms to count 1,000 workspaces. With the role in the constraint's index the
-- lookup is one index-only probe (4 ms for the same count).
ALTER TABLE account_memberships DROP CONSTRAINT account_memberships_account_id_user_id_key;
ALTER TABLE account_memberships ADD CONSTRAINT account_memberships_account_id_user_id_key
    UNIQUE (account_id, user_id) INCLUDE (role);
