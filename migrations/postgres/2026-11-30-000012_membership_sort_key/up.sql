-- The members page orders and pages by the member's handle. A copy of the handle beside the
-- foreign key (user handles never change) lets the index (account_id, handle) give that
-- order, keyset pages and the handle-prefix filter without reading every member's user row.
-- COLLATE "C": byte order, as on SQLite, and a B-tree that serves range and prefix matches.
ALTER TABLE account_memberships ADD COLUMN handle TEXT COLLATE "C";
UPDATE account_memberships
   SET handle = users.handle FROM users WHERE users.id = account_memberships.user_id;
ALTER TABLE account_memberships ALTER COLUMN handle SET NOT NULL;
CREATE UNIQUE INDEX account_memberships_account_handle ON account_memberships (account_id, handle);
