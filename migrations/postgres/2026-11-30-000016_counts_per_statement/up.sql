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

-- One function for the three totals. Its arguments name the parent table, its total
-- column and the child's column that points at the parent; the statement's rows are in
-- the transition tables `added` and `removed` (only those the trigger's event has: an
-- INSERT has no `removed`, so each event reads only its own). An UPDATE trigger cannot name
-- columns when it has transition tables, so it fires on every update (a role change) and
-- changes nothing unless a row moved to another parent.
CREATE FUNCTION atrium_count_children() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rows_of text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT %3$I AS parent, 1 AS n FROM added'
        WHEN 'DELETE' THEN 'SELECT %3$I AS parent, -1 AS n FROM removed'
        ELSE 'SELECT %3$I AS parent, 1 AS n FROM added
              UNION ALL SELECT %3$I, -1 FROM removed'
    END;
BEGIN
    EXECUTE format(
        'UPDATE %1$I p SET %2$I = p.%2$I + d.n
         FROM (SELECT parent, SUM(n) AS n FROM (' || rows_of || ') c
               GROUP BY parent HAVING SUM(n) <> 0) d
         WHERE p.id = d.parent',
        TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]);
    RETURN NULL;
END $$;

CREATE TRIGGER account_memberships_count_insert AFTER INSERT ON account_memberships
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('accounts', 'member_count', 'account_id');
CREATE TRIGGER account_memberships_count_delete AFTER DELETE ON account_memberships
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('accounts', 'member_count', 'account_id');
CREATE TRIGGER account_memberships_count_update AFTER UPDATE ON account_memberships
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('accounts', 'member_count', 'account_id');

CREATE TRIGGER workspace_access_count_insert AFTER INSERT ON workspace_access
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('workspaces', 'user_access_count', 'workspace_id');
CREATE TRIGGER workspace_access_count_delete AFTER DELETE ON workspace_access
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('workspaces', 'user_access_count', 'workspace_id');
CREATE TRIGGER workspace_access_count_update AFTER UPDATE ON workspace_access
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('workspaces', 'user_access_count', 'workspace_id');

CREATE TRIGGER workspace_bot_access_count_insert AFTER INSERT ON workspace_bot_access
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('workspaces', 'bot_access_count', 'workspace_id');
CREATE TRIGGER workspace_bot_access_count_delete AFTER DELETE ON workspace_bot_access
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('workspaces', 'bot_access_count', 'workspace_id');
CREATE TRIGGER workspace_bot_access_count_update AFTER UPDATE ON workspace_bot_access
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION atrium_count_children('workspaces', 'bot_access_count', 'workspace_id');
