//! What an operation answers when it does not do what was asked.
//!
//! Every domain's `ops.rs` returns [`OpResult`]: the value, or an [`OpError`] — a
//! [`Refusal`] (the request is not allowed or not valid: nothing changed) or a failure of
//! the database. The refusal carries a [`Reason`] (an enum, never a string to compare), and
//! the edges turn it into what they show: the page error or a message beside a field
//! (`web::error`), the API's status and `detail` (`api::error`). This module imports
//! nothing of the web layer, so the domains' rules can use it from below.

use std::fmt;

/// Field errors of a form or body, by field name (the page's field names; the API maps
/// them to its own where they differ).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, msg: impl Into<String>) {
        self.0.push((field, msg.into()));
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// One error on one field.
    pub fn one(field: &'static str, msg: impl Into<String>) -> FieldErrors {
        let mut e = FieldErrors::default();
        e.add(field, msg);
        e
    }
}

/// Why a change was refused. Each reason has one message, shown on pages and in the
/// API's `detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// An account role above the actor's own (or touching an Owner without being one).
    AboveOwnRole,
    /// A workspace role with scopes the actor does not hold (`workspaces::grants`).
    AboveOwnScopes,
    /// The last Owner of an account cannot go or become something else.
    LastOwner,
    /// Removing oneself goes through "Leave account".
    RemoveSelf,
    /// The last Owner leaving an account.
    LastOwnerLeaving,
    /// A personal account cannot be left.
    LeavePersonal,
    /// A personal account cannot be deleted.
    DeletePersonal,
    /// Only Owners change the audit retention.
    RetentionOwnersOnly,
    /// Only Owners change the flow run retention.
    RunRetentionOwnersOnly,
    /// The account's workspace limit is reached.
    WorkspaceLimit,
    /// The thing changed meanwhile (a concurrent change got there first).
    Changed,
    /// Another account has proved the e-mail domain (SSO).
    DomainTaken,
    /// The provider's person, or the user, is already linked (SSO).
    AlreadyLinked,
    /// Only Owners change whether members must use two-factor authentication.
    TwoFactorOwnersOnly,
    /// Requiring two-factor authentication of members needs it on for oneself first.
    TwoFactorYourselfFirst,
    /// Two-factor authentication stays on while an account of the user requires it.
    TwoFactorRequired,
    /// Two-factor authentication is already on (turn it off to set it up again).
    TwoFactorAlreadyOn,
    /// Two-factor authentication is not on.
    TwoFactorOff,
}

impl Reason {
    pub fn message(self) -> &'static str {
        match self {
            Reason::AboveOwnRole => "You cannot give or change a role above your own.",
            Reason::AboveOwnScopes => {
                "You cannot give a role with permissions you do not have yourself."
            }
            Reason::LastOwner => "An account must keep at least one Owner.",
            Reason::RemoveSelf => "Use “Leave account” to leave.",
            Reason::LastOwnerLeaving => {
                "You are the last Owner. Make someone else an Owner before you leave."
            }
            Reason::LeavePersonal => "You cannot leave your personal account.",
            Reason::DeletePersonal => "A personal account cannot be deleted.",
            Reason::RetentionOwnersOnly => "Only Owners change how long audit events are kept.",
            Reason::RunRetentionOwnersOnly => "Only Owners change how long flow runs are kept.",
            Reason::WorkspaceLimit => "This account has reached its workspace limit.",
            Reason::Changed => "This changed meanwhile. Reload the page and try again.",
            Reason::DomainTaken => "Another account has already proved this domain.",
            Reason::AlreadyLinked => {
                "This user is already linked to another identity at this provider."
            }
            Reason::TwoFactorOwnersOnly => {
                "Only Owners change whether members must use two-factor authentication."
            }
            Reason::TwoFactorYourselfFirst => {
                "Turn on two-factor authentication for yourself (Profile → Two-factor authentication) before requiring it of members."
            }
            Reason::TwoFactorRequired => {
                "An account you belong to requires two-factor authentication, so it cannot be turned off."
            }
            Reason::TwoFactorAlreadyOn => "Two-factor authentication is already on.",
            Reason::TwoFactorOff => "Two-factor authentication is not on.",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A request an operation will not carry out; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// What the actor asked about does not exist for them (pages and API answer 404).
    NotFound,
    /// They may see it but not do this (403), with the reason when there is one to say.
    Forbidden(Option<Reason>),
    /// The request conflicts with the state of things (pages: a message; API: 409).
    Conflict(Reason),
    /// Bad input (pages: messages beside the fields, 422; API: 422 with `loc`s).
    Invalid(FieldErrors),
    /// Bad input in item `n` of a list the operation took (the API's bodies with several
    /// items answer it at that item's `loc`); nothing of the list was done.
    InvalidItem(usize, FieldErrors),
}

/// What an operation failed with.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<Refusal> for OpError {
    fn from(r: Refusal) -> Self {
        OpError::Refused(r)
    }
}

impl From<FieldErrors> for OpError {
    fn from(e: FieldErrors) -> Self {
        OpError::Refused(Refusal::Invalid(e))
    }
}

pub type OpResult<T> = Result<T, OpError>;

/// Shorthands for refusing from inside an operation: `return refuse(Refusal::NotFound)`.
pub fn refuse<T>(r: Refusal) -> OpResult<T> {
    Err(OpError::Refused(r))
}

/// `Err(Forbidden(reason))`.
pub fn forbidden<T>(reason: Reason) -> OpResult<T> {
    refuse(Refusal::Forbidden(Some(reason)))
}

/// `Err(Conflict(reason))`.
pub fn conflict<T>(reason: Reason) -> OpResult<T> {
    refuse(Refusal::Conflict(reason))
}

/// `Err(Invalid(one field error))`.
pub fn invalid<T>(field: &'static str, msg: impl Into<String>) -> OpResult<T> {
    refuse(Refusal::Invalid(FieldErrors::one(field, msg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_database_errors_convert_into_the_operation_error() {
        let e: OpError = Refusal::NotFound.into();
        assert!(matches!(e, OpError::Refused(Refusal::NotFound)));
        let e: OpError = diesel::result::Error::NotFound.into();
        assert!(matches!(e, OpError::Db(_)));
        let e: OpError = FieldErrors::one("name", "Enter a name.").into();
        assert!(
            matches!(e, OpError::Refused(Refusal::Invalid(f)) if f.get("name") == Some("Enter a name."))
        );
        assert_eq!(
            Reason::LastOwner.to_string(),
            "An account must keep at least one Owner."
        );
    }
}
