//! Typed identifiers: an account id cannot be passed where a user id is wanted.
//!
//! Every id is a UUID stored as lowercase hyphenated text (both backends). Ids from a
//! request (path segments, form fields, API bodies) are parsed once, at the extractor or the
//! body reader, with [`AccountId::parse`] and friends; anything that is not a UUID is no id
//! at all (the caller answers 404 or a field error). Operations (`<domain>/ops.rs`) take
//! these types; queries (`<domain>/model.rs`) take `&str` through [`AccountId::as_str`].

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id in `raw`, if it is a UUID (in any case; kept in the stored form).
            pub fn parse(raw: &str) -> Option<$name> {
                uuid::Uuid::parse_str(raw.trim())
                    .ok()
                    .map(|u| $name(u.to_string()))
            }

            /// An id read from the database (already in the stored form).
            pub fn from_stored(s: impl Into<String>) -> $name {
                $name(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// An account (personal or organization).
    AccountId
);
id_type!(
    /// A person.
    UserId
);
id_type!(
    /// A workspace.
    WorkspaceId
);
id_type!(
    /// A workspace role (built-in or custom).
    RoleId
);
id_type!(
    /// A service account ("bot" in Prefect Cloud's API paths).
    ServiceAccountId
);
id_type!(
    /// An API key.
    ApiKeyId
);
id_type!(
    /// An invitation.
    InvitationId
);
id_type!(
    /// A workspace transfer (request).
    TransferId
);
id_type!(
    /// An account membership.
    MembershipId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uuids_are_ids_and_they_are_kept_in_the_stored_form() {
        let id = AccountId::parse(" 7D4F2BD6-7C4A-4A4E-9A53-5B1E4B1F8D11 ").expect("a uuid");
        assert_eq!(id.as_str(), "7d4f2bd6-7c4a-4a4e-9a53-5b1e4b1f8d11");
        assert_eq!(AccountId::parse("acme"), None);
        assert_eq!(AccountId::parse(""), None);
        assert_eq!(AccountId::parse("7d4f2bd6\0"), None);
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, "\"7d4f2bd6-7c4a-4a4e-9a53-5b1e4b1f8d11\"");
    }
}
