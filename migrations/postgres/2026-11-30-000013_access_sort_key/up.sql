-- The workspace members panel orders and pages by the member's handle: a copy of it beside
-- the foreign key (user handles never change), with the index (workspace_id, handle).
-- COLLATE "C": byte order, as on SQLite.
ALTER TABLE workspace_access ADD COLUMN handle TEXT COLLATE "C";
UPDATE workspace_access
   SET handle = users.handle FROM users WHERE users.id = workspace_access.user_id;
ALTER TABLE workspace_access ALTER COLUMN handle SET NOT NULL;
CREATE UNIQUE INDEX workspace_access_workspace_handle ON workspace_access (workspace_id, handle);
