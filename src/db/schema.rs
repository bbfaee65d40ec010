// The tables, shared by both backends (text ids, TIMESTAMP columns).

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        email_normalized -> Text,
        handle -> Text,
        first_name -> Text,
        last_name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        email_verified_at -> Nullable<Timestamp>,
        /// "handle first last email", folded (db::search::fold); the search's index.
        search_key -> Text,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        email -> Text,
        code_digest -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        handle -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        workspace_limit -> Nullable<BigInt>,
        audit_retention_days -> Integer,
        member_count -> BigInt,
        flow_run_retention_days -> Integer,
        sso_required -> Bool,
        require_two_factor -> Bool,
        /// A small integer naming the account in `account_memberships.search_id`
        /// (set by the database when the account is inserted).
        number -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// SQLite only (migrations `000027_member_search`): the FTS5 trigram index of
    /// memberships, keyed by `account_memberships.search_id` (its rowid); see [`matches`].
    members_search (rowid) {
        rowid -> BigInt,
        search_key -> Text,
    }
}

diesel::infix_operator!(Matches, " MATCH ");

/// `column MATCH query`: an FTS5 full-text query restricted to the column (SQLite).
pub fn matches<L, R>(left: L, right: R) -> Matches<L, R> {
    Matches::new(left, right)
}

diesel::define_sql_function! {
    /// PostgreSQL only (migration 000031): whether a search key holds `part`, tested on the
    /// key's trigram signature first and on the text (`strpos`) only where the signature
    /// has every bit of the part's ([`crate::db::search::trigram_signature`]).
    fn atrium_search_holds(
        key_lo: diesel::sql_types::BigInt,
        key_hi: diesel::sql_types::BigInt,
        search_key: diesel::sql_types::Text,
        part_lo: diesel::sql_types::BigInt,
        part_hi: diesel::sql_types::BigInt,
        part: diesel::sql_types::Text,
    ) -> diesel::sql_types::Bool;
}

diesel::table! {
    account_memberships (id) {
        id -> Text,
        account_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
        handle -> Text,
        /// The member's `users.search_key`, copied (by triggers) for the per-account index.
        search_key -> Text,
        /// The account's number * 2^32 + the membership's number in it (set by triggers):
        /// the per-account search index's key and a search's order.
        search_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// PostgreSQL only: the columns of `account_memberships` that its search reads
    /// (`members::model::search_rows`), with the two it alone has: the 128-bit signature of
    /// the search key's trigrams (generated from `search_key`, migration 000031), tested
    /// before the text ([`crate::db::search::trigram_signature`]). A table of its own so
    /// that no statement of both backends names columns SQLite does not have
    /// (`account_memberships` in a subquery is all of its columns).
    #[sql_name = "account_memberships"]
    pg_member_search (search_id) {
        search_id -> BigInt,
        search_sig_lo -> BigInt,
        search_sig_hi -> BigInt,
        user_id -> Text,
        role -> Text,
        search_key -> Text,
    }
}

diesel::joinable!(pg_member_search -> users (user_id));

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        data -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_seen_at -> Nullable<Timestamp>,
        user_agent -> Nullable<Text>,
        client_address -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        ip -> Text,
        identifier -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        event_id -> Text,
        occurred_at -> Timestamp,
        account_id -> Nullable<Text>,
        workspace_id -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
        action -> Text,
        resource_kind -> Text,
        resource_id -> Nullable<Text>,
        resource_name -> Text,
        ip -> Nullable<Text>,
        payload -> Text,
    }
}

diesel::joinable!(account_memberships -> accounts (account_id));
diesel::joinable!(account_memberships -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(email_tokens -> users (user_id));

diesel::table! {
    invitations (id) {
        id -> Text,
        account_id -> Text,
        email -> Text,
        email_normalized -> Text,
        role -> Text,
        code_salt -> Text,
        code_digest -> Text,
        status -> Text,
        invited_by -> Nullable<Text>,
        invited_by_name -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        responded_at -> Nullable<Timestamp>,
        accepted_by -> Nullable<Text>,
        workspace_id -> Nullable<Text>,
        workspace_role_id -> Nullable<Text>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        ref_id -> Nullable<Text>,
        account_id -> Nullable<Text>,
        to_addr -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    workspace_roles (id) {
        id -> Text,
        account_id -> Nullable<Text>,
        builtin -> Nullable<Text>,
        name -> Text,
        description -> Text,
        scopes -> Text,
        inherited_role -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workspaces (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        handle -> Text,
        description -> Text,
        default_role_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        user_access_count -> BigInt,
        bot_access_count -> BigInt,
    }
}

diesel::table! {
    workspace_access (id) {
        id -> Text,
        workspace_id -> Text,
        user_id -> Text,
        role_id -> Text,
        created_at -> Timestamp,
        handle -> Text,
    }
}

diesel::table! {
    workspace_visits (user_id, workspace_id) {
        user_id -> Text,
        workspace_id -> Text,
        visited_at -> Timestamp,
    }
}

diesel::joinable!(invitations -> accounts (account_id));
diesel::joinable!(workspaces -> accounts (account_id));
diesel::joinable!(workspace_access -> workspaces (workspace_id));
diesel::joinable!(workspace_access -> users (user_id));
diesel::joinable!(workspace_access -> workspace_roles (role_id));
diesel::joinable!(workspace_visits -> workspaces (workspace_id));

diesel::table! {
    service_accounts (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        name_normalized -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        service_account_id -> Nullable<Text>,
        name -> Text,
        prefix -> Text,
        digest -> Text,
        last4 -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    workspace_bot_access (id) {
        id -> Text,
        workspace_id -> Text,
        service_account_id -> Text,
        role_id -> Text,
        created_at -> Timestamp,
        handle -> Text,
    }
}

diesel::joinable!(service_accounts -> accounts (account_id));
diesel::joinable!(api_keys -> service_accounts (service_account_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(workspace_bot_access -> workspaces (workspace_id));
diesel::joinable!(workspace_bot_access -> service_accounts (service_account_id));
diesel::joinable!(workspace_bot_access -> workspace_roles (role_id));

diesel::table! {
    workspace_transfers (id) {
        id -> Text,
        workspace_id -> Nullable<Text>,
        workspace_name -> Text,
        workspace_handle -> Text,
        source_account_id -> Text,
        target_account_id -> Text,
        new_handle -> Nullable<Text>,
        status -> Text,
        requested_by -> Nullable<Text>,
        requested_by_name -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    workspace_servers (workspace_id) {
        workspace_id -> Text,
        url -> Text,
        auth_sealed -> Text,
        auth_mask -> Text,
        prefect_version -> Text,
        state -> Text,
        unreachable_since -> Nullable<Timestamp>,
        checked_at -> Timestamp,
        connected_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    access_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    managed_servers (workspace_id) {
        workspace_id -> Text,
        state -> Text,
        instance_id -> Nullable<Text>,
        port -> Nullable<Integer>,
        pid -> Nullable<Integer>,
        auth_sealed -> Text,
        database -> Text,
        prefect_version -> Text,
        started_at -> Nullable<Timestamp>,
        heartbeat_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        stopped_at -> Nullable<Timestamp>,
        failures -> Integer,
        last_log -> Text,
        created_at -> Timestamp,
        retention_days -> Nullable<Integer>,
    }
}

diesel::joinable!(workspace_servers -> workspaces (workspace_id));
diesel::joinable!(managed_servers -> workspaces (workspace_id));

diesel::table! {
    teams (id) {
        id -> Text,
        account_id -> Text,
        name -> Text,
        name_normalized -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    team_members (id) {
        id -> Text,
        team_id -> Text,
        user_id -> Text,
        handle -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    workspace_team_access (id) {
        id -> Text,
        workspace_id -> Text,
        team_id -> Text,
        role_id -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(teams -> accounts (account_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));
diesel::joinable!(workspace_team_access -> workspaces (workspace_id));
diesel::joinable!(workspace_team_access -> teams (team_id));
diesel::joinable!(workspace_team_access -> workspace_roles (role_id));

diesel::table! {
    sso_integrations (id) {
        id -> Text,
        account_id -> Text,
        issuer -> Text,
        client_id -> Text,
        client_secret_sealed -> Text,
        client_secret_mask -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sso_domains (id) {
        id -> Text,
        account_id -> Text,
        domain -> Text,
        verify_email -> Text,
        code_digest -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sso_identities (id) {
        id -> Text,
        integration_id -> Text,
        user_id -> Text,
        subject -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_totp (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_used_step -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(sso_integrations -> accounts (account_id));
diesel::joinable!(sso_domains -> accounts (account_id));
diesel::joinable!(sso_identities -> sso_integrations (integration_id));
diesel::joinable!(sso_identities -> users (user_id));
diesel::table! {
    recovery_codes (id) {
        id -> Text,
        user_id -> Text,
        digest -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(user_totp -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    pg_member_search,
    accounts,
    account_memberships,
    members_search,
    sessions,
    login_failures,
    audit_events,
    invitations,
    outbox,
    workspace_roles,
    workspaces,
    workspace_access,
    workspace_visits,
    service_accounts,
    api_keys,
    workspace_bot_access,
    workspace_transfers,
    email_tokens,
    workspace_servers,
    access_version,
    managed_servers,
    teams,
    team_members,
    workspace_team_access,
    sso_integrations,
    sso_domains,
    sso_identities,
    user_totp,
    recovery_codes,
);
