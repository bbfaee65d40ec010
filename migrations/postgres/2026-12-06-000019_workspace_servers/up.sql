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

-- At commit (deferred), once per transaction: the row is locked last, when the transaction
-- holds everything else it will hold, so two transactions never wait on each other for it.
CREATE FUNCTION bump_access_version() RETURNS trigger AS $$
BEGIN
    IF current_setting('atrium.access_bumped', true) IS DISTINCT FROM txid_current()::text THEN
        UPDATE access_version SET version = version + 1 WHERE id = 1;
        PERFORM set_config('atrium.access_bumped', txid_current()::text, true);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
-- A user's last log-in time is not a change of who may do what.
CREATE CONSTRAINT TRIGGER users_access_version AFTER INSERT OR DELETE OR UPDATE OF id, email, email_normalized, handle, password_hash, email_verified_at ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER accounts_access_version AFTER INSERT OR UPDATE OR DELETE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER account_memberships_access_version AFTER INSERT OR UPDATE OR DELETE ON account_memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER workspace_roles_access_version AFTER INSERT OR UPDATE OR DELETE ON workspace_roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER workspaces_access_version AFTER INSERT OR UPDATE OR DELETE ON workspaces
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER workspace_access_access_version AFTER INSERT OR UPDATE OR DELETE ON workspace_access
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER service_accounts_access_version AFTER INSERT OR UPDATE OR DELETE ON service_accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
CREATE CONSTRAINT TRIGGER workspace_bot_access_access_version AFTER INSERT OR UPDATE OR DELETE ON workspace_bot_access
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
-- A key's "last used" time is not a change of who may do what.
CREATE CONSTRAINT TRIGGER api_keys_access_version AFTER INSERT OR DELETE OR UPDATE OF id, user_id, service_account_id, digest, expires_at ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
-- Nor is a server's state.
CREATE CONSTRAINT TRIGGER workspace_servers_access_version AFTER INSERT OR DELETE OR UPDATE OF workspace_id, url, auth_sealed ON workspace_servers
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_access_version();
