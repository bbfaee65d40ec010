//! The built-in account roles: a pure value (stored as text by `accounts::model`).

/// Built-in account roles, stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountRole {
    Collaborator,
    Member,
    Admin,
    Owner,
}

impl AccountRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Owner => "owner",
            AccountRole::Admin => "admin",
            AccountRole::Member => "member",
            AccountRole::Collaborator => "collaborator",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AccountRole::Owner => "Owner",
            AccountRole::Admin => "Admin",
            AccountRole::Member => "Member",
            AccountRole::Collaborator => "Collaborator",
        }
    }

    /// The role named `s` (either case, surrounding space ignored), without allocating:
    /// every member row read from the database is parsed.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        [
            AccountRole::Owner,
            AccountRole::Admin,
            AccountRole::Member,
            AccountRole::Collaborator,
        ]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// The fixed id of a built-in account role (the API's `account_role_id`).
    pub fn id(self) -> &'static str {
        match self {
            AccountRole::Owner => "00000000-0000-4000-8000-0000000000a1",
            AccountRole::Admin => "00000000-0000-4000-8000-0000000000a2",
            AccountRole::Member => "00000000-0000-4000-8000-0000000000a3",
            AccountRole::Collaborator => "00000000-0000-4000-8000-0000000000a4",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        [
            AccountRole::Owner,
            AccountRole::Admin,
            AccountRole::Member,
            AccountRole::Collaborator,
        ]
        .into_iter()
        .find(|r| r.id().eq_ignore_ascii_case(id.trim()))
    }
}

impl std::fmt::Display for AccountRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
