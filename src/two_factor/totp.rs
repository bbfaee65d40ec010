//! The time-based one-time passwords of RFC 6238, as authenticator apps compute them:
//! HMAC-SHA1, 6 digits, 30-second steps, one step of clock drift either way ([`SKEW`]).
//! Pure: no database, no web. The arithmetic is the `totp-rs` crate's; this module picks
//! the parameters, finds which step a code belongs to (so that a code is accepted once,
//! `two_factor::ops`), and makes the `otpauth://` address and its QR code.

use base64::Engine;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per step.
pub const STEP: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Steps of drift accepted on either side of the current one.
pub const SKEW: u64 = 1;
/// Bytes of a new secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// The issuer authenticator apps show beside the account.
pub const ISSUER: &str = "Atrium";

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, SKEW as u8, STEP, secret.to_vec())
}

/// A new random secret, base32 encoded (RFC 4648, no padding: what apps accept typed).
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut raw = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut raw);
    encoded(&raw)
}

fn encoded(raw: &[u8]) -> String {
    Secret::Raw(raw.to_vec()).to_encoded().to_string()
}

/// The secret's bytes, or `None` when `b32` is not base32 of a long enough secret.
fn decode(b32: &str) -> Option<Vec<u8>> {
    Secret::Encoded(b32.to_string())
        .to_bytes()
        .ok()
        .filter(|b| b.len() >= 16)
}

/// The secret in groups of four characters, easier to type into an app.
pub fn grouped(b32: &str) -> String {
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The step a Unix time falls in.
pub fn step_of(unix: u64) -> u64 {
    unix / STEP
}

/// The code of `step` for the secret (`None` for a secret that does not decode).
pub fn code_at_step(b32: &str, step: u64) -> Option<String> {
    decode(b32).map(|s| totp(&s).generate(step * STEP))
}

/// What a typed code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The code of this step, which is later than the last step used.
    Accepted(u64),
    /// The code of a step already used (or earlier): a replay.
    Replayed,
    /// Not a code of the window.
    Wrong,
}

/// Checks `typed` (spaces and dashes ignored) against the codes of the steps around `now`
/// (Unix seconds). A step at or before `last_used` is refused as a replay, so each code
/// works once. Compared in constant time.
pub fn check(b32: &str, typed: &str, now: u64, last_used: Option<u64>) -> Check {
    let typed: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let Some(secret) = decode(b32) else {
        return Check::Wrong;
    };
    if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return Check::Wrong;
    }
    let t = totp(&secret);
    let current = step_of(now);
    let mut found = None;
    for step in current.saturating_sub(SKEW)..=current + SKEW {
        let code = t.generate(step * STEP);
        if constant_time_eq::constant_time_eq(code.as_bytes(), typed.as_bytes()) {
            // The latest matching step wins (two steps sharing a code is a 1-in-10⁶ chance).
            found = Some(step);
        }
    }
    match (found, last_used) {
        (Some(step), Some(last)) if step <= last => Check::Replayed,
        (Some(step), _) => Check::Accepted(step),
        (None, _) => Check::Wrong,
    }
}

/// The `otpauth://` address an app reads from the QR code (Key Uri Format).
pub fn otpauth_uri(b32: &str, account: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // Spaces as %20, not +: some apps show a + literally in the label.
    let label = format!("{}:{}", enc(ISSUER), enc(account)).replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(ISSUER)
    )
}

/// The QR code of `uri` as an SVG `data:` address for an `<img>` (the page's policy allows
/// `data:` images; nothing is fetched, no JavaScript). `None` if the text cannot be encoded.
pub fn qr_data_uri(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// Characters of a recovery code (two groups of five, lower-case letters and digits
/// without the ones that look alike).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

/// A new recovery code, `xxxxx-xxxxx` (about 49 bits).
pub fn new_recovery_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut pick = || RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())] as char;
    let a: String = (0..5).map(|_| pick()).collect();
    let b: String = (0..5).map(|_| pick()).collect();
    format!("{a}-{b}")
}

/// A typed recovery code as it is digested: lower case, without spaces and dashes (so
/// `ABCDE FGHJK` and `abcde-fghjk` are the same code). `None` when it cannot be one.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (s.len() == 10 && s.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890", 8 digits there; the
    /// last 6 digits are the 6-digit code.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let b32 = encoded(b"12345678901234567890");
        for (t, code8) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
        ] {
            assert_eq!(
                code_at_step(&b32, step_of(t)).as_deref(),
                Some(&code8[2..]),
                "{t}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_within_one_step_and_once() {
        let b32 = new_secret();
        assert_eq!(b32.len(), 32);
        let now = 1_700_000_000;
        let step = step_of(now);
        let code = code_at_step(&b32, step).expect("code");
        assert_eq!(check(&b32, &code, now, None), Check::Accepted(step));
        assert_eq!(
            check(&b32, &format!("{} {}", &code[..3], &code[3..]), now, None),
            Check::Accepted(step)
        );
        // The previous and next steps' codes are accepted (clock drift), not further ones.
        let prev = code_at_step(&b32, step - 1).expect("code");
        assert_eq!(check(&b32, &prev, now, None), Check::Accepted(step - 1));
        let far = code_at_step(&b32, step + 3).expect("code");
        if far != code && far != prev && Some(far.clone()) != code_at_step(&b32, step + 1) {
            assert_eq!(check(&b32, &far, now, None), Check::Wrong);
        }
        // Once used, the same step (or an earlier one) is a replay.
        assert_eq!(check(&b32, &code, now, Some(step)), Check::Replayed);
        assert_eq!(check(&b32, &prev, now, Some(step)), Check::Replayed);
        assert_eq!(check(&b32, "12345", now, None), Check::Wrong);
        assert_eq!(check(&b32, "abcdef", now, None), Check::Wrong);
        assert_eq!(check("not base32!", &code, now, None), Check::Wrong);
    }

    #[test]
    fn the_address_and_its_qr_code() {
        let uri = otpauth_uri("JBSWY3DPEHPK3PXP", "ana@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Atrium:ana%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Atrium&algorithm=SHA1&digits=6&period=30"
        );
        let qr = qr_data_uri(&uri).expect("qr");
        assert!(qr.starts_with("data:image/svg+xml;base64,"));
        assert_eq!(grouped("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
    }

    #[test]
    fn recovery_codes_are_read_leniently() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        let plain = code.replace('-', "");
        assert_eq!(
            normalize_recovery_code(&code).as_deref(),
            Some(plain.as_str())
        );
        assert_eq!(
            normalize_recovery_code(&format!(" {} ", code.to_uppercase().replace('-', " "))),
            Some(plain)
        );
        assert_eq!(normalize_recovery_code("short"), None);
        assert_eq!(normalize_recovery_code("abcde-fghi1"), None);
    }
}
