-- The members page orders and pages by the member's handle. A copy of the handle beside the
-- foreign key (user handles never change) lets the index (account_id, handle) give that
-- order, keyset pages and the handle-prefix filter without reading every member's user row.
ALTER TABLE account_memberships ADD COLUMN handle TEXT NOT NULL DEFAULT '';
UPDATE account_memberships
   SET handle = (SELECT users.handle FROM users WHERE users.id = account_memberships.user_id);
CREATE UNIQUE INDEX account_memberships_account_handle ON account_memberships (account_id, handle);
