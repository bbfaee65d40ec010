//! API key queries (the `api_keys` table), key generation and parsing.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::authn::digest;
use crate::db::schema::api_keys;
use crate::db::{DbConn, new_id, now};

pub const USER_PREFIX: &str = "pnu_";
pub const BOT_PREFIX: &str = "pnb_";
const KEY_CHARS: usize = 36;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// How often `last_used_at` is written for one key, at most.
pub const LAST_USED_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A new plaintext key with `prefix`.
pub fn generate(prefix: &str) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let body: String = (0..KEY_CHARS)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    format!("{prefix}{body}")
}

/// True when `key` has the shape of an Atrium key (prefix + 36 base62 characters).
pub fn well_formed(key: &str) -> bool {
    let body = key
        .strip_prefix(USER_PREFIX)
        .or_else(|| key.strip_prefix(BOT_PREFIX));
    matches!(body, Some(b) if b.len() == KEY_CHARS && b.bytes().all(|c| c.is_ascii_alphanumeric()))
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: String,
    pub user_id: Option<String>,
    pub service_account_id: Option<String>,
    pub name: String,
    pub prefix: String,
    pub digest: String,
    pub last4: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

impl ApiKey {
    /// `pnb_…a1b2`: what lists show instead of the key.
    pub fn mask(&self) -> String {
        format!("{}…{}", self.prefix, self.last4)
    }

    pub fn is_expired_at(&self, t: NaiveDateTime) -> bool {
        matches!(self.expires_at, Some(e) if e <= t)
    }

    pub fn is_expired(&self) -> bool {
        self.is_expired_at(now())
    }

    pub fn created_label(&self) -> String {
        when(&Some(self.created_at))
    }

    /// `Never`, or when it expires.
    pub fn expires_label(&self) -> String {
        when(&self.expires_at)
    }

    /// `Never`, or when it was last used (to the minute).
    pub fn last_used_label(&self) -> String {
        when(&self.last_used_at)
    }
}

/// The one-time panel shown right after a key was made: the key, and how to use it.
#[derive(Clone, Debug)]
pub struct Reveal {
    pub title: String,
    pub key: String,
    /// `prefect cloud login -k <key> --workspace <account>/<workspace>`
    pub login_command: String,
    /// `<public url>/api`, for `PREFECT_CLOUD_API_URL`.
    pub api_url: String,
}

impl Reveal {
    /// `workspace`: `account-handle/workspace-handle`, or a placeholder.
    pub fn new(title: impl Into<String>, key: String, workspace: &str, public_base: &str) -> Self {
        Reveal {
            title: title.into(),
            login_command: format!("prefect cloud login -k {key} --workspace {workspace}"),
            api_url: format!("{public_base}/api"),
            key,
        }
    }
}

pub const EXPIRATION_PAST: &str = "Choose an expiration in the future.";

/// An expiration date from a form (`YYYY-MM-DD`, empty = never). The key works until the
/// end of that day (UTC); a day in the past is refused.
pub fn parse_expiration_date(raw: &str) -> Result<Option<NaiveDateTime>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(
        |_| "Enter a date as YYYY-MM-DD, or leave it empty for a key that never expires.",
    )?;
    let end = day
        .and_hms_micro_opt(23, 59, 59, 999_999)
        .ok_or("Enter a date as YYYY-MM-DD.")?;
    if end <= now() {
        return Err(EXPIRATION_PAST);
    }
    Ok(Some(end))
}

/// How lists show a moment: `2026-12-31 23:59 UTC`, or `Never`. Written from the date's
/// fields: chrono's `format` parses its pattern again at every call, and the members list
/// shows 50 a page.
pub fn when(t: &Option<NaiveDateTime>) -> String {
    use chrono::{Datelike, Timelike};
    match t {
        Some(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => "Never".into(),
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    User(&'a str),
    ServiceAccount(&'a str),
}

/// Stores a new key for `owner` and returns it with its plaintext (shown once, never stored).
pub fn create(
    conn: &mut DbConn,
    owner: Owner<'_>,
    name: &str,
    expires_at: Option<NaiveDateTime>,
) -> QueryResult<(ApiKey, String)> {
    let (prefix, user_id, sa_id) = match owner {
        Owner::User(u) => (USER_PREFIX, Some(u), None),
        Owner::ServiceAccount(s) => (BOT_PREFIX, None, Some(s)),
    };
    let plain = generate(prefix);
    let id = new_id();
    let last4: String = plain[plain.len() - 4..].to_string();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&id),
            api_keys::user_id.eq(user_id),
            api_keys::service_account_id.eq(sa_id),
            api_keys::name.eq(name),
            api_keys::prefix.eq(prefix),
            api_keys::digest.eq(digest(&plain)),
            api_keys::last4.eq(&last4),
            api_keys::created_at.eq(now()),
            api_keys::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    let key = api_keys::table
        .find(&id)
        .select(ApiKey::as_select())
        .first(conn)?;
    Ok((key, plain))
}

/// A user's personal key (`pnu_…`).
pub fn create_user_key(
    conn: &mut DbConn,
    user_id: &str,
    name: &str,
    expires_at: Option<NaiveDateTime>,
) -> QueryResult<(ApiKey, String)> {
    create(conn, Owner::User(user_id), name, expires_at)
}

/// A service account's key (`pnb_…`).
pub fn create_bot_key(
    conn: &mut DbConn,
    service_account_id: &str,
    name: &str,
    expires_at: Option<NaiveDateTime>,
) -> QueryResult<(ApiKey, String)> {
    create(
        conn,
        Owner::ServiceAccount(service_account_id),
        name,
        expires_at,
    )
}

/// A user's keys, newest first (expired ones included, so the list can mark them).
pub fn for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)
}

/// A service account's keys, newest first.
pub fn for_service_account(conn: &mut DbConn, sa_id: &str) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::service_account_id.eq(sa_id))
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)
}

/// A service account's newest key (the one lists show).
pub fn newest_for_service_account(conn: &mut DbConn, sa_id: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::service_account_id.eq(sa_id))
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

/// Deletes one of a user's keys; 0 when it is not theirs.
pub fn delete_user_key(conn: &mut DbConn, user_id: &str, key_id: &str) -> QueryResult<usize> {
    diesel::delete(
        api_keys::table
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// Ends a service account's current keys: at once (`keep_until = None`: deleted), or at
/// `keep_until` (an earlier expiration is kept).
pub fn retire_bot_keys(
    conn: &mut DbConn,
    sa_id: &str,
    keep_until: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    match keep_until {
        None => diesel::delete(api_keys::table.filter(api_keys::service_account_id.eq(sa_id)))
            .execute(conn),
        Some(t) => diesel::update(
            api_keys::table
                .filter(api_keys::service_account_id.eq(sa_id))
                .filter(
                    api_keys::expires_at
                        .is_null()
                        .or(api_keys::expires_at.gt(t)),
                ),
        )
        .set(api_keys::expires_at.eq(t))
        .execute(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_prefix_and_36_base62_characters() {
        for prefix in [USER_PREFIX, BOT_PREFIX] {
            let k = generate(prefix);
            assert!(k.starts_with(prefix));
            assert_eq!(k.len(), 40);
            assert!(k[4..].bytes().all(|c| c.is_ascii_alphanumeric()));
            assert!(well_formed(&k));
        }
        assert_ne!(generate(USER_PREFIX), generate(USER_PREFIX));
    }

    #[test]
    fn an_expiration_date_means_the_end_of_that_day_and_the_past_is_refused() {
        assert_eq!(parse_expiration_date("  "), Ok(None));
        let t = parse_expiration_date("2999-12-31").unwrap().unwrap();
        assert_eq!(
            t.format("%Y-%m-%d %H:%M:%S").to_string(),
            "2999-12-31 23:59:59"
        );
        let today = chrono::Utc::now()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string();
        assert!(
            parse_expiration_date(&today).unwrap().is_some(),
            "today is fine"
        );
        assert_eq!(parse_expiration_date("2001-01-01"), Err(EXPIRATION_PAST));
        assert!(parse_expiration_date("31/12/2999").is_err());
    }

    #[test]
    fn malformed_keys_are_refused_before_any_lookup() {
        for bad in [
            "",
            "pnu_",
            "pnx_abcdefghijklmnopqrstuvwxyz0123456789",
            "pnu_abcdefghijklmnopqrstuvwxyz012345678",
            "pnu_abcdefghijklmnopqrstuvwxyz01234567890",
            "pnu_abcdefghijklmnopqrstuvwxyz01234567-9",
            "pnu_abcdefghijklmnopqrstuvwxyz0123456é",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}

/// Property tests (issue #9): the key parser never panics, a generated key is well formed,
/// and a key with any one character changed is refused — by its shape, or, when it still
/// has the shape of a key, by its digest (the only thing looked up).
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_parser_never_panics_and_accepts_only_the_key_shape(s in prop_oneof![
            any::<String>(),
            "(pnu_|pnb_|pnx_|PNU_)?[a-zA-Z0-9é_-]{0,40}",
        ]) {
            if well_formed(&s) {
                prop_assert_eq!(s.len(), 40);
                prop_assert!(s.starts_with(USER_PREFIX) || s.starts_with(BOT_PREFIX));
                prop_assert!(s[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }

        #[test]
        fn a_generated_key_round_trips_and_any_single_change_is_refused(
            bot in any::<bool>(),
            at in 0usize..40,
            with in any::<char>(),
        ) {
            let key = generate(if bot { BOT_PREFIX } else { USER_PREFIX });
            prop_assert!(well_formed(&key));
            let stored = digest(&key);
            prop_assert_eq!(digest(&key), stored.clone());
            let mut chars: Vec<char> = key.chars().collect();
            prop_assume!(chars[at] != with);
            chars[at] = with;
            let changed: String = chars.into_iter().collect();
            prop_assert!(!well_formed(&changed) || digest(&changed) != stored);
            // Dropping or adding a character breaks the shape.
            prop_assert!(!well_formed(&key[..39]));
            let longer = format!("{key}{}", &key[39..]);
            prop_assert!(!well_formed(&longer));
        }
    }
}

#[cfg(test)]
mod when_tests {
    use super::when;

    #[test]
    fn a_moment_is_shown_to_the_minute_in_utc() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 4)
            .and_then(|d| d.and_hms_opt(5, 6, 59))
            .expect("date");
        assert_eq!(when(&Some(t)), "2026-03-04 05:06 UTC");
        assert_eq!(when(&None), "Never");
    }
}
