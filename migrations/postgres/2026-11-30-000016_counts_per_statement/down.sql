DROP TRIGGER workspace_bot_access_count_update ON workspace_bot_access;
DROP TRIGGER workspace_bot_access_count_delete ON workspace_bot_access;
DROP TRIGGER workspace_bot_access_count_insert ON workspace_bot_access;
DROP TRIGGER workspace_access_count_update ON workspace_access;
DROP TRIGGER workspace_access_count_delete ON workspace_access;
DROP TRIGGER workspace_access_count_insert ON workspace_access;
DROP TRIGGER account_memberships_count_update ON account_memberships;
DROP TRIGGER account_memberships_count_delete ON account_memberships;
DROP TRIGGER account_memberships_count_insert ON account_memberships;
DROP FUNCTION atrium_count_children();

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
