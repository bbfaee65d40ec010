-- The workspace members panel orders and pages by the member's handle: a copy of it beside
-- the foreign key (user handles never change), with the index (workspace_id, handle).
ALTER TABLE workspace_access ADD COLUMN handle TEXT NOT NULL DEFAULT '';
UPDATE workspace_access
   SET handle = (SELECT users.handle FROM users WHERE users.id = workspace_access.user_id);
CREATE UNIQUE INDEX workspace_access_workspace_handle ON workspace_access (workspace_id, handle);
