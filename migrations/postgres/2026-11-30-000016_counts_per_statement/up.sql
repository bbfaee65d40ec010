-- The totals of 000015, kept per statement instead of per row (issue #8). A row trigger
-- updated the account's (or workspace's) row once per member or access: a statement that
-- adds 10,000 members updated one row 10,000 times in one transaction, and each update
-- walked the row's growing chain of versions (the seed's 2,000-row INSERTs took 0.3, 0.7,
-- 1.0, 1.2, 1.5 s). Now each statement's rows are counted per account or workspace from its
-- transition tables, and each total is updated once, by the difference. As before, the
-- increment is made in the UPDATE, under the row's lock, so concurrent changes add up.
DROP TRIGGER account_memberships_count ON account_memberships;
DROP TRIGGER workspace_access_count ON workspace_access;
DROP TRIGGER workspace_bot_access_count ON workspace_bot_access;
DROP FUNCTION atrium_count_members();
DROP FUNCTION atrium_count_user_accesses();
DROP FUNCTION atrium_count_bot_accesses();

-- An UPDATE trigger cannot name columns when it has transition tables, so it fires on every
-- update (a role change) and changes nothing unless a row moved to another parent.
CREATE FUNCTION atrium_count_members() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE accounts a SET member_count = a.member_count + d.n
        FROM (SELECT account_id, COUNT(*) AS n FROM added GROUP BY account_id) d
        WHERE a.id = d.account_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE accounts a SET member_count = a.member_count - d.n
        FROM (SELECT account_id, COUNT(*) AS n FROM removed GROUP BY account_id) d
        WHERE a.id = d.account_id;
    ELSE
        UPDATE accounts a SET member_count = a.member_count + d.n
        FROM (SELECT account_id, SUM(n) AS n
              FROM (SELECT account_id, 1 AS n FROM added
                    UNION ALL SELECT account_id, -1 FROM removed) c
              GROUP BY account_id HAVING SUM(n) <> 0) d
        WHERE a.id = d.account_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER account_memberships_count_insert AFTER INSERT ON account_memberships
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_members();
CREATE TRIGGER account_memberships_count_delete AFTER DELETE ON account_memberships
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_members();
CREATE TRIGGER account_memberships_count_update AFTER UPDATE ON account_memberships
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_members();

CREATE FUNCTION atrium_count_user_accesses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE workspaces w SET user_access_count = w.user_access_count + d.n
        FROM (SELECT workspace_id, COUNT(*) AS n FROM added GROUP BY workspace_id) d
        WHERE w.id = d.workspace_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE workspaces w SET user_access_count = w.user_access_count - d.n
        FROM (SELECT workspace_id, COUNT(*) AS n FROM removed GROUP BY workspace_id) d
        WHERE w.id = d.workspace_id;
    ELSE
        UPDATE workspaces w SET user_access_count = w.user_access_count + d.n
        FROM (SELECT workspace_id, SUM(n) AS n
              FROM (SELECT workspace_id, 1 AS n FROM added
                    UNION ALL SELECT workspace_id, -1 FROM removed) c
              GROUP BY workspace_id HAVING SUM(n) <> 0) d
        WHERE w.id = d.workspace_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER workspace_access_count_insert AFTER INSERT ON workspace_access
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_user_accesses();
CREATE TRIGGER workspace_access_count_delete AFTER DELETE ON workspace_access
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_user_accesses();
CREATE TRIGGER workspace_access_count_update AFTER UPDATE ON workspace_access
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_user_accesses();

CREATE FUNCTION atrium_count_bot_accesses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE workspaces w SET bot_access_count = w.bot_access_count + d.n
        FROM (SELECT workspace_id, COUNT(*) AS n FROM added GROUP BY workspace_id) d
        WHERE w.id = d.workspace_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE workspaces w SET bot_access_count = w.bot_access_count - d.n
        FROM (SELECT workspace_id, COUNT(*) AS n FROM removed GROUP BY workspace_id) d
        WHERE w.id = d.workspace_id;
    ELSE
        UPDATE workspaces w SET bot_access_count = w.bot_access_count + d.n
        FROM (SELECT workspace_id, SUM(n) AS n
              FROM (SELECT workspace_id, 1 AS n FROM added
                    UNION ALL SELECT workspace_id, -1 FROM removed) c
              GROUP BY workspace_id HAVING SUM(n) <> 0) d
        WHERE w.id = d.workspace_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER workspace_bot_access_count_insert AFTER INSERT ON workspace_bot_access
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_bot_accesses();
CREATE TRIGGER workspace_bot_access_count_delete AFTER DELETE ON workspace_bot_access
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_bot_accesses();
CREATE TRIGGER workspace_bot_access_count_update AFTER UPDATE ON workspace_bot_access
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION atrium_count_bot_accesses();
