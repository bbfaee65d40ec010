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
        Ok(Name(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
