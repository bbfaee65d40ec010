//! What every page of the logged-in UI shows around its content: the sidebar with the
//! account section and the user menu, and the CSRF token for forms and htmx.

use crate::accounts::model::{Account, AccountRole};
use crate::users::model::User;

/// One account in the sidebar's account picker.
#[derive(Clone, Debug)]
pub struct AccountLink {
    pub id: String,
    pub name: String,
    pub handle: String,
    pub personal: bool,
    pub role: AccountRole,
}

impl AccountLink {
    /// Owner or Admin of the account.
    pub fn is_admin(&self) -> bool {
        self.role >= AccountRole::Admin
    }

    /// May the user read the account's audit log (the sidebar shows the link only then).
    pub fn sees_audit_log(&self) -> bool {
        crate::authz::account::PermSet::of_role(self.role)
            .has(crate::authz::AccountPerm::ReadAuditEvent)
    }

    /// May the user see the account's teams (`read:team`; the sidebar shows the link only
    /// then).
    pub fn sees_teams(&self) -> bool {
        crate::authz::account::PermSet::of_role(self.role).has(crate::authz::AccountPerm::ReadTeam)
    }

    pub fn from(a: &Account, role: AccountRole) -> Self {
        AccountLink {
            id: a.id.clone(),
            name: a.name.clone(),
            handle: a.handle.clone(),
            personal: a.is_personal(),
            role,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Shell {
    pub user_name: String,
    pub user_handle: String,
    pub user_email: String,
    pub initials: String,
    pub csrf: String,
    pub accounts: Vec<AccountLink>,
    pub current: Option<AccountLink>,
    /// Which navigation entry is active (e.g. "members", "profile").
    pub active: &'static str,
    /// The workspace being looked at, if any.
    pub workspace: Option<WorkspaceLink>,
    /// What the last action did (`web::flash`), shown once.
    pub flash: Option<String>,
}

/// The current workspace, for the sidebar.
#[derive(Clone, Debug)]
pub struct WorkspaceLink {
    pub account_id: String,
    pub id: String,
    pub name: String,
    pub see_settings: bool,
    pub see_members: bool,
    pub see_service_accounts: bool,
}

impl WorkspaceLink {
    pub fn base(&self) -> String {
        format!("/account/{}/workspace/{}", self.account_id, self.id)
    }
}

impl Shell {
    pub fn new(user: &User, csrf: String, accounts: Vec<AccountLink>) -> Self {
        let current = accounts.first().cloned();
        Shell {
            user_name: user.display_name(),
            user_handle: user.handle.clone(),
            user_email: user.email.clone(),
            initials: user.initials(),
            csrf,
            accounts,
            current,
            active: "",
            workspace: None,
            flash: None,
        }
    }

    /// Marks the active navigation entry.
    pub fn at(mut self, active: &'static str) -> Self {
        self.active = active;
        self
    }

    /// Makes `account_id` the current account in the sidebar (when the user belongs to it).
    pub fn in_account(mut self, account_id: &str) -> Self {
        if let Some(a) = self.accounts.iter().find(|a| a.id == account_id) {
            self.current = Some(a.clone());
        }
        self
    }

    /// The `hx-headers` JSON for `<body>`, built by serde (never by hand).
    pub fn hx_headers(&self) -> String {
        serde_json::json!({ crate::web::csrf::HEADER: self.csrf }).to_string()
    }

    pub fn is(&self, name: &str) -> bool {
        self.active == name
    }
}
