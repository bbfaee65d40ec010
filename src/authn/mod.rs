//! Authentication: passwords, database-backed sessions, CSRF, log-in throttling and
//! the extractors handlers use to learn who is asking.

pub mod csrf;
pub mod extract;
pub mod password;
pub mod rate_limit;
pub mod session_store;

pub use extract::{Auth, MaybeUser};

/// Session keys.
pub const SESSION_USER: &str = "uid";
pub const SESSION_CSRF: &str = "csrf";

/// A random token of `bytes` bytes, hex encoded.
pub fn random_token(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of `s`, hex encoded: how secrets (session keys, invitation codes, API keys) are stored.
pub fn digest(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Where to go after log-in: only a path on this site (`/…`, not `//…` or `/\…`), else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next.map(str::trim) else {
        return "/".into();
    };
    let ok = n.starts_with('/')
        && !n.starts_with("//")
        && !n.starts_with("/\\")
        && !n.chars().any(|c| c.is_control() || c == '\\')
        && n.len() <= 2000;
    if ok { n.to_string() } else { "/".into() }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_goes_to_local_paths() {
        assert_eq!(safe_next(Some("/profile")), "/profile");
        assert_eq!(
            safe_next(Some("/account/x/members?q=a")),
            "/account/x/members?q=a"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
