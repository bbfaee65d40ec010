//! Authentication: passwords, database-backed sessions, log-in throttling, sudo mode and
//! who asks remembered between requests. The extractors handlers use to learn who is
//! asking are in `web::ctx`.

pub mod password;
pub mod rate_limit;
pub mod session_store;
pub mod throttle;
pub mod who;

/// Session keys.
pub const SESSION_USER: &str = "uid";
pub const SESSION_CSRF: &str = "csrf";
/// Set at log-in with the device (User-Agent) and address the session starts from; the
/// store moves them out of the state into the session's row ([`session_store`]).
pub const SESSION_DEVICE: &str = "_device";
/// The accounts whose SSO provider this session came through (a list of account ids).
pub const SESSION_SSO: &str = "sso_accounts";
pub const SESSION_ADDRESS: &str = "_address";

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
/// The path is checked as typed and percent-decoded, so `/%2F%2Fevil.example`,
/// `/%5Cevil.example` and `/%09/evil.example` go to `/` too (SECURITY.md §2.6).
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next.map(str::trim) else {
        return "/".into();
    };
    let local = |p: &str| {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.starts_with("/\\")
            && !p.chars().any(|c| c.is_control() || c == '\\')
    };
    let path = n.split(['?', '#']).next().unwrap_or_default();
    let ok = n.len() <= 2000 && local(n) && local(&percent_decode(path));
    if ok { n.to_string() } else { "/".into() }
}

/// `%XX` sequences as the bytes they stand for (anything else as it is), read as UTF-8
/// with replacement characters.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/%0d%0aSet-Cookie:x=y",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}

/// Property tests (issue #9) for the redirect target.
#[cfg(test)]
mod proptests {
    use super::safe_next;
    use proptest::prelude::*;

    fn target() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[/\\\\a-z.:%@?#= \\t\\r\\n\\x00\u{3000}]{0,40}",
            "(https?:|javascript:|data:|//|/\\\\|\\\\/|/%2F|/%5C|/\\t/)?[a-z./@:%]{0,30}",
            "/[a-zA-Z0-9/_?=&%.-]{0,60}",
        ]
    }

    proptest! {
        #[test]
        fn a_sanitised_target_is_always_a_local_path(raw in target()) {
            let to = safe_next(Some(&raw));
            prop_assert!(to.starts_with('/'), "{to:?}");
            prop_assert!(!to.starts_with("//") && !to.starts_with("/\\"), "{to:?}");
            prop_assert!(!to.chars().any(|c| c.is_control() || c == '\\'), "{to:?}");
            prop_assert!(to.len() <= 2000);
            // Idempotent: a sanitised target is kept as it is.
            prop_assert_eq!(safe_next(Some(&to)), to.clone());
            // Either the target as typed (trimmed) or the home page.
            prop_assert!(to == raw.trim() || to == "/");
        }

        #[test]
        fn local_paths_are_kept(p in "/[a-zA-Z0-9_-]{1,20}(/[a-zA-Z0-9_-]{1,20}){0,3}(\\?[a-z]{1,8}=[a-z0-9]{0,8})?") {
            prop_assert_eq!(safe_next(Some(&p)), p.clone());
        }
    }
}
