//! Secrets Atrium must be able to give back later — a Prefect server's
//! `PREFECT_SERVER_API_AUTH_STRING` (issue #21) — sealed with AES-256-GCM under a key
//! derived from Atrium's secret key, and stored as base64 of nonce and ciphertext. A copy of
//! the database alone does not reveal them; changing `ATRIUM_SECRET_KEY` makes them
//! unreadable (reconnect the servers). Pages show them masked ([`mask`]).

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const NONCE_LEN: usize = 12;

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    /// The sealer of the instance: its key is SHA-256 of a purpose label and the master key,
    /// so it is unrelated to the keys derived for other purposes (invitation links).
    pub fn new(master: &[u8]) -> Sealer {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"atrium-seal-key:");
        h.update(master);
        let key = h.finalize();
        Sealer {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        }
    }

    /// `plain` sealed under a fresh random nonce (so the same secret seals differently).
    pub fn seal(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs of gigabytes; an auth string is short.
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        STANDARD.encode(out)
    }

    /// The secret in `sealed`, or `None` when it was sealed under another key or changed.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = STANDARD.decode(sealed).ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// A secret as pages show it: its last four characters when it is long enough that they
/// give little away, else nothing of it.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n >= 12 {
        let tail: String = secret.chars().skip(n - 4).collect();
        format!("••••••••{tail}")
    } else {
        "••••••••".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let a = Sealer::new(b"master key one");
        let b = Sealer::new(b"master key two");
        let sealed = a.seal("admin:s3cret-auth-string");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(a.open(&sealed).as_deref(), Some("admin:s3cret-auth-string"));
        assert_eq!(b.open(&sealed), None);
        // A fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(a.seal("same"), a.seal("same"));
    }

    #[test]
    fn a_changed_or_broken_seal_does_not_open() {
        let a = Sealer::new(b"k");
        let sealed = a.seal("secret");
        let mut raw = STANDARD.decode(&sealed).expect("base64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(a.open(&STANDARD.encode(raw)), None);
        assert_eq!(a.open("not base64 at all!"), None);
        assert_eq!(a.open(&STANDARD.encode([0u8; 5])), None);
    }

    #[test]
    fn masks_show_at_most_the_last_four_characters() {
        assert_eq!(mask("short"), "••••••••");
        assert_eq!(mask("a-long-auth-string-7f3a"), "••••••••7f3a");
    }
}
