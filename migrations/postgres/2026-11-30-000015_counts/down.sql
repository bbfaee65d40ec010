DROP TRIGGER workspace_bot_access_count ON workspace_bot_access;
DROP TRIGGER workspace_access_count ON workspace_access;
DROP TRIGGER account_memberships_count ON account_memberships;
DROP FUNCTION atrium_count_bot_accesses();
DROP FUNCTION atrium_count_user_accesses();
DROP FUNCTION atrium_count_members();
ALTER TABLE workspaces DROP COLUMN bot_access_count;
ALTER TABLE workspaces DROP COLUMN user_access_count;
ALTER TABLE accounts DROP COLUMN member_count;
