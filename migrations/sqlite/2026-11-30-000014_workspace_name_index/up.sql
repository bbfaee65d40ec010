-- The switcher's second read: the reachable workspaces the user has not visited, by name,
-- one account at a time, walked in this index's order and stopped after 50 (no sort of
-- every reachable workspace).
CREATE INDEX workspaces_account_name ON workspaces (account_id, name, id);
