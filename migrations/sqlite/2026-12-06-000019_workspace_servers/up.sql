-- The workspace gateway (issue #21).
--
-- A workspace's Prefect server: its URL (normalized; one URL backs one workspace) and its
-- PREFECT_SERVER_API_AUTH_STRING, sealed with a key derived from Atrium's secret key
-- (src/sealed.rs). `state` is what the last connection found.
CREATE TABLE workspace_servers (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    url TEXT NOT NULL UNIQUE,
    auth_sealed TEXT NOT NULL,
    auth_mask TEXT NOT NULL,
    prefect_version TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('connected', 'unreachable')),
    unreachable_since TIMESTAMP,
    checked_at TIMESTAMP NOT NULL,
    connected_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);

-- Who may do what, versioned: every committed change to a table that decides which key
-- stands for whom with which scopes on which server moves `version` on, once per
-- transaction. Each Atrium instance reads it a few times a second and forgets the callers
-- it remembered from an earlier version (src/gateway/caller.rs).
CREATE TABLE access_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);

-- SQLite has one writer at a time: a row trigger that updates the row is enough.
CREATE TRIGGER users_access_version_insert AFTER INSERT ON users BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_access_version_update AFTER UPDATE OF id, email, email_normalized, handle, password_hash, email_verified_at ON users BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_access_version_delete AFTER DELETE ON users BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_access_version_insert AFTER INSERT ON accounts BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_access_version_update AFTER UPDATE ON accounts BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER accounts_access_version_delete AFTER DELETE ON accounts BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER account_memberships_access_version_insert AFTER INSERT ON account_memberships BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER account_memberships_access_version_update AFTER UPDATE ON account_memberships BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER account_memberships_access_version_delete AFTER DELETE ON account_memberships BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_roles_access_version_insert AFTER INSERT ON workspace_roles BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_roles_access_version_update AFTER UPDATE ON workspace_roles BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_roles_access_version_delete AFTER DELETE ON workspace_roles BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspaces_access_version_insert AFTER INSERT ON workspaces BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspaces_access_version_update AFTER UPDATE ON workspaces BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspaces_access_version_delete AFTER DELETE ON workspaces BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_access_access_version_insert AFTER INSERT ON workspace_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_access_access_version_update AFTER UPDATE ON workspace_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_access_access_version_delete AFTER DELETE ON workspace_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER service_accounts_access_version_insert AFTER INSERT ON service_accounts BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER service_accounts_access_version_update AFTER UPDATE ON service_accounts BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER service_accounts_access_version_delete AFTER DELETE ON service_accounts BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_bot_access_access_version_insert AFTER INSERT ON workspace_bot_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_bot_access_access_version_update AFTER UPDATE ON workspace_bot_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_bot_access_access_version_delete AFTER DELETE ON workspace_bot_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_access_version_insert AFTER INSERT ON api_keys BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_access_version_delete AFTER DELETE ON api_keys BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_access_version_update AFTER UPDATE OF id, user_id, service_account_id, digest, expires_at ON api_keys BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_servers_access_version_insert AFTER INSERT ON workspace_servers BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_servers_access_version_delete AFTER DELETE ON workspace_servers BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_servers_access_version_update AFTER UPDATE OF workspace_id, url, auth_sealed ON workspace_servers BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
