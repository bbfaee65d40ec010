-- Totals the pages show, kept beside the row they describe instead of counted on every
-- request (issue #8): an account's members (the members page), a workspace's members and
-- service accounts with a role on it (the dashboard, the members panel). Triggers keep
-- them in the same transaction as the change, whichever statement makes it (a removal of
-- a member that takes their accesses, a transfer, a foreign-key cascade).
ALTER TABLE accounts ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET member_count = (
    SELECT COUNT(*) FROM account_memberships m WHERE m.account_id = accounts.id
);
ALTER TABLE workspaces ADD COLUMN user_access_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN bot_access_count BIGINT NOT NULL DEFAULT 0;
UPDATE workspaces SET
    user_access_count = (SELECT COUNT(*) FROM workspace_access a
                         WHERE a.workspace_id = workspaces.id),
    bot_access_count = (SELECT COUNT(*) FROM workspace_bot_access b
                        WHERE b.workspace_id = workspaces.id);

CREATE TRIGGER account_memberships_count_in AFTER INSERT ON account_memberships
BEGIN
    UPDATE accounts SET member_count = member_count + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER account_memberships_count_out AFTER DELETE ON account_memberships
BEGIN
    UPDATE accounts SET member_count = member_count - 1 WHERE id = OLD.account_id;
END;
CREATE TRIGGER account_memberships_count_move AFTER UPDATE OF account_id ON account_memberships
BEGIN
    UPDATE accounts SET member_count = member_count - 1 WHERE id = OLD.account_id;
    UPDATE accounts SET member_count = member_count + 1 WHERE id = NEW.account_id;
END;

CREATE TRIGGER workspace_access_count_in AFTER INSERT ON workspace_access
BEGIN
    UPDATE workspaces SET user_access_count = user_access_count + 1
    WHERE id = NEW.workspace_id;
END;
CREATE TRIGGER workspace_access_count_out AFTER DELETE ON workspace_access
BEGIN
    UPDATE workspaces SET user_access_count = user_access_count - 1
    WHERE id = OLD.workspace_id;
END;
CREATE TRIGGER workspace_access_count_move AFTER UPDATE OF workspace_id ON workspace_access
BEGIN
    UPDATE workspaces SET user_access_count = user_access_count - 1
    WHERE id = OLD.workspace_id;
    UPDATE workspaces SET user_access_count = user_access_count + 1
    WHERE id = NEW.workspace_id;
END;

CREATE TRIGGER workspace_bot_access_count_in AFTER INSERT ON workspace_bot_access
BEGIN
    UPDATE workspaces SET bot_access_count = bot_access_count + 1
    WHERE id = NEW.workspace_id;
END;
CREATE TRIGGER workspace_bot_access_count_out AFTER DELETE ON workspace_bot_access
BEGIN
    UPDATE workspaces SET bot_access_count = bot_access_count - 1
    WHERE id = OLD.workspace_id;
END;
CREATE TRIGGER workspace_bot_access_count_move AFTER UPDATE OF workspace_id ON workspace_bot_access
BEGIN
    UPDATE workspaces SET bot_access_count = bot_access_count - 1
    WHERE id = OLD.workspace_id;
    UPDATE workspaces SET bot_access_count = bot_access_count + 1
    WHERE id = NEW.workspace_id;
END;
