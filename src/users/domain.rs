//! Parsed input: values of these types are valid by construction.

use validator::ValidateEmail;

/// An e-mail address as typed, plus its case-folded form used for uniqueness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    original: String,
    normalized: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter an e-mail address.");
        }
        if s.len() > 254 {
            return Err("E-mail addresses are at most 254 characters.");
        }
        if s.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | '"' | ',' | ';')
        }) {
            return Err("Enter a valid e-mail address, like name@example.com.");
        }
        if !s.validate_email() || !s.contains('@') {
            return Err("Enter a valid e-mail address, like name@example.com.");
        }
        // A domain with a dot, not an IP literal (SECURITY.md §2.3): `validator` accepts
        // `user@localhost` and `user@[127.0.0.1]`, which no invitation should go to.
        let domain = s.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if !domain.contains('.') || domain.starts_with('[') || domain.ends_with('.') {
            return Err("Enter an address with a full domain name, like name@example.com.");
        }
        Ok(Email {
            original: s.to_string(),
            normalized: s.to_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// Handles nobody may take (users, accounts, workspaces): words of Atrium's own addresses
/// and words that would let a handle pass for the site or its operators.
pub const RESERVED_HANDLES: &[&str] = &[
    "about",
    "account",
    "accounts",
    "admin",
    "administrator",
    "api",
    "app",
    "atrium",
    "auth",
    "billing",
    "dashboard",
    "docs",
    "healthz",
    "help",
    "login",
    "logout",
    "me",
    "new",
    "onboarding",
    "operator",
    "prefect",
    "profile",
    "root",
    "security",
    "settings",
    "signup",
    "static",
    "status",
    "support",
    "system",
    "www",
];

/// A user or account handle: lowercase letters, digits and dashes, 2–40 characters,
/// starting and ending with a letter or digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle(String);

impl Handle {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::parse_len(raw, 2)
    }

    /// Workspace handles may be a single character.
    pub fn parse_len(raw: &str, min: usize) -> Result<Self, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a handle.");
        }
        if s.chars().count() < min {
            return Err("Handles are at least 2 characters.");
        }
        if s.chars().count() > 40 {
            return Err("Handles are at most 40 characters.");
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err("Use only lowercase letters, digits and dashes.");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err("A handle cannot start or end with a dash.");
        }
        if RESERVED_HANDLES.contains(&s) {
            return Err("That handle is reserved. Choose another one.");
        }
        Ok(Handle(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's first or last name, or an account name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str, what: &'static str, required: bool) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() && required {
            return Err(format!("Enter {what}."));
        }
        if s.chars().count() > 100 {
            return Err(format!("{} is at most 100 characters.", capitalize(what)));
        }
        if s.chars().any(char::is_control) {
            return Err(format!(
                "{} cannot contain line breaks or control characters.",
                capitalize(what)
            ));
        }
        if s.chars().any(is_invisible_format) {
            return Err(format!(
                "{} cannot contain invisible or text-direction characters.",
                capitalize(what)
            ));
        }
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Zero-width and bidirectional-override characters: they make one name look like another
/// (SECURITY.md §2.1), so names refuse them.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn capitalize(s: &str) -> String {
    let s = s
        .strip_prefix("a ")
        .or_else(|| s.strip_prefix("an "))
        .or_else(|| s.strip_prefix("your "))
        .unwrap_or(s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// A new password: 10 to 1024 characters, anything allowed, never trimmed.
pub struct NewPassword(String);

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;

impl NewPassword {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.chars().count() < MIN_PASSWORD {
            return Err("Use at least 10 characters.");
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err("Use at most 1024 characters.");
        }
        Ok(NewPassword(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        assert!(Handle::parse("ana-42").is_ok());
        for bad in [
            "A",
            "a",
            "Ana",
            "ana_b",
            "-ana",
            "ana-",
            "ana b",
            "ana/b",
            "a\u{301}na",
            &"a".repeat(41),
        ] {
            assert!(Handle::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn emails() {
        let e = Email::parse("  Ana@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "Ana@Example.COM");
        assert_eq!(e.normalized(), "ana@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "a b@example.com",
            "ana@example.com\r\nBcc: x@y.z",
            "<a@b.c>",
            "ana@localhost",
            "ana@[127.0.0.1]",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names_and_passwords() {
        assert!(Name::parse("Ana\nBcc", "a first name", true).is_err());
        assert!(Name::parse("", "a first name", true).is_err());
        assert!(Name::parse(&"x".repeat(101), "a first name", true).is_err());
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse(&"🙂".repeat(64)).is_ok());
        assert!(NewPassword::parse(&"x".repeat(2000)).is_err());
    }
}

/// Property tests (issue #9): the parsers never panic, what they accept re-parses to
/// itself, and canonicalisation is idempotent.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// Strings that are likely to hit the parsers' edges: ASCII, separators, controls,
    /// invisible and text-direction characters, non-ASCII letters and emoji.
    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ -~]{0,60}",
            "[a-zA-Z0-9@._+\\-<>\",; \\t\\r\\n\\x00\u{200b}\u{202e}\u{feff}éİ😀]{0,80}",
        ]
    }

    proptest! {
        #[test]
        fn handles_never_panic_and_accepted_handles_reparse_to_themselves(s in hostile()) {
            if let Ok(h) = Handle::parse(&s) {
                prop_assert_eq!(Handle::parse(h.as_str()), Ok(h.clone()));
                prop_assert_eq!(h.as_str(), s.trim());
                prop_assert!(h.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
            let _ = Handle::parse_len(&s, 1);
        }

        #[test]
        fn well_formed_handles_are_accepted(h in "[a-z0-9][a-z0-9-]{0,38}[a-z0-9]") {
            prop_assume!(!RESERVED_HANDLES.contains(&h.as_str()));
            prop_assert_eq!(Handle::parse(&h).map(|h| h.as_str().to_string()), Ok(h.clone()));
            prop_assert!(Handle::parse(&h.to_uppercase()).is_err() || h.to_uppercase() == h);
        }

        #[test]
        fn emails_never_panic_and_canonicalisation_is_idempotent(s in hostile()) {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
                let again = Email::parse(e.normalized()).expect("the canonical form is accepted");
                prop_assert_eq!(again.normalized(), e.normalized());
                prop_assert!(!e.as_str().chars().any(|c| c.is_control() || c.is_whitespace()));
            }
        }

        #[test]
        fn plausible_emails_round_trip(
            e in "[a-zA-Z0-9_+-]{1,10}(\\.[a-zA-Z0-9_+-]{1,10})?@[a-zA-Z0-9]{1,20}\\.[a-z]{2,6}"
        ) {
            let p = Email::parse(&e).map_err(TestCaseError::fail)?;
            prop_assert_eq!(p.as_str(), e.as_str());
            prop_assert_eq!(p.normalized(), e.to_lowercase());
            prop_assert_eq!(Email::parse(&e.to_uppercase()).map(|u| u.normalized().to_string()), Ok(e.to_lowercase()));
        }

        #[test]
        fn names_never_panic_and_hold_no_control_or_invisible_characters(s in hostile()) {
            if let Ok(n) = Name::parse(&s, "a name", true) {
                prop_assert!(!n.as_str().is_empty());
                prop_assert!(!n.as_str().chars().any(|c| c.is_control() || is_invisible_format(c)));
                prop_assert!(n.as_str().chars().count() <= 100);
                prop_assert_eq!(Name::parse(n.as_str(), "a name", true), Ok(n.clone()));
            }
        }

        #[test]
        fn passwords_never_panic(s in hostile()) {
            if let Ok(p) = NewPassword::parse(&s) {
                prop_assert_eq!(p.as_str(), s.as_str());
            }
        }
    }
}
