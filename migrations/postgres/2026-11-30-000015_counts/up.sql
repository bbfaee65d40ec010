-- Totals the pages show, kept beside the row they describe instead of counted on every
-- request (issue #8): an account's members (the members page), a workspace's members and
-- service accounts with a role on it (the dashboard, the members panel). Triggers keep
-- them in the same transaction as the change, whichever statement makes it (a removal of
-- a member that takes their accesses, a transfer, a foreign-key cascade). The increment is
-- made in the UPDATE, under the row's lock, so concurrent changes add up.
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

CREATE FUNCTION atrium_count_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE accounts SET member_count = member_count - 1 WHERE id = OLD.account_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE accounts SET member_count = member_count + 1 WHERE id = NEW.account_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER account_memberships_count
    AFTER INSERT OR DELETE OR UPDATE OF account_id ON account_memberships
    FOR EACH ROW EXECUTE FUNCTION atrium_count_members();

CREATE FUNCTION atrium_count_user_accesses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE workspaces SET user_access_count = user_access_count - 1
        WHERE id = OLD.workspace_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE workspaces SET user_access_count = user_access_count + 1
        WHERE id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER workspace_access_count
    AFTER INSERT OR DELETE OR UPDATE OF workspace_id ON workspace_access
    FOR EACH ROW EXECUTE FUNCTION atrium_count_user_accesses();

CREATE FUNCTION atrium_count_bot_accesses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE workspaces SET bot_access_count = bot_access_count - 1
        WHERE id = OLD.workspace_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE workspaces SET bot_access_count = bot_access_count + 1
        WHERE id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER workspace_bot_access_count
    AFTER INSERT OR DELETE OR UPDATE OF workspace_id ON workspace_bot_access
    FOR EACH ROW EXECUTE FUNCTION atrium_count_bot_accesses();
