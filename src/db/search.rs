//! The search key of people (issue #24, point 6): "handle first last email", lower-cased
//! with accents stripped, so that "zoe" finds "Zoë" and "Coder" finds "Ada Coder". It is
//! stored on `users.search_key`, copied by triggers to each of the user's memberships
//! (`account_memberships.search_key`) and indexed there (an FTS5 trigram table keyed by the
//! membership's per-account search id on SQLite, a GIN trigram index on PostgreSQL:
//! migrations `2026-12-07-000027_member_search`); queries are folded the same way
//! ([`fold`]) and matched by `members::model::matching`.

use diesel::prelude::*;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::DbConn;
use super::schema::users;

/// Text as the search compares it: compatibility-decomposed (NFKD), combining marks
/// dropped, lower-cased, runs of white space made one space, trimmed.
pub fn fold(s: &str) -> String {
    let stripped: String = s
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `part` as an FTS5 phrase for `members_search MATCH`: quoted (so every character is
/// literal; `"` doubled inside), which the trigram tokenizer matches as a substring.
pub fn fts_phrase(part: &str) -> String {
    format!("\"{}\"", part.replace('"', "\"\""))
}

/// The 128-bit signature of the byte trigrams of `text`, as (low, high) halves: for each
/// trigram (three consecutive bytes b0 b1 b2), bit h of the pair, h = the top 7 bits of
/// `(b0·2^16 + b1·2^8 + b2) × 2654435761 mod 2^32`. PostgreSQL computes the same for every
/// membership's search key (`atrium_trigram_signature`, the generated columns
/// `search_sig_lo`/`search_sig_hi` of migration 000031): a key holding `part` holds each of
/// its trigrams, so its signature has every bit of the part's, and a search passes over
/// entries that lack one without comparing text. Text shorter than three bytes: (0, 0).
pub fn trigram_signature(text: &str) -> (i64, i64) {
    let (mut lo, mut hi) = (0u64, 0u64);
    for w in text.as_bytes().windows(3) {
        let x = (u64::from(w[0]) << 16) | (u64::from(w[1]) << 8) | u64::from(w[2]);
        let h = ((x * 2_654_435_761) % (1 << 32)) >> 25;
        if h < 64 {
            lo |= 1 << h;
        } else {
            hi |= 1 << (h - 64);
        }
    }
    (lo as i64, hi as i64)
}

/// A user's search key.
pub fn user_key(handle: &str, first_name: &str, last_name: &str, email: &str) -> String {
    fold(&format!("{handle} {first_name} {last_name} {email}"))
}

/// Writes the key of every user whose key is still empty (the migration adds the column
/// empty, and SQL cannot strip accents); run by [`super::migrate`] after the migrations,
/// so a database is never served with keys missing. Returns how many it filled.
pub fn backfill_users(conn: &mut DbConn) -> QueryResult<usize> {
    conn.transaction(|c| {
        let rows: Vec<(String, String, String, String, String)> = users::table
            .filter(users::search_key.eq(""))
            .select((
                users::id,
                users::handle,
                users::first_name,
                users::last_name,
                users::email,
            ))
            .load(c)?;
        for (id, handle, first, last, email) in &rows {
            diesel::update(users::table.find(id))
                .set(users::search_key.eq(user_key(handle, first, last, email)))
                .execute(c)?;
        }
        Ok(rows.len())
    })
}

/// Pages of the search index one merge step writes at most.
const MERGE_PAGES: i64 = 500;

/// Merges the segments of SQLite's search index (the FTS5 table `members_search`), at most
/// `steps` steps of about [`MERGE_PAGES`] pages each, and says whether work remains. FTS5
/// adds a small segment per write transaction and merges them only as they pile up, and a
/// search opens every segment of the index for each of its trigrams: after a bulk load
/// (the seed's 20,000 memberships) the index held ~20 segments and a search's index reads
/// cost twice what they cost on one (a page of "ovela" 51 µs against 22 µs, "lovelace" 90
/// against 31). `merge` with a negative page count merges all segments as one level, like
/// `optimize` but a bounded step at a time, so the housekeeping can run it without holding
/// the write lock long. A step that changes fewer than two rows found nothing to merge
/// (FTS5's documented test). Nothing to do on PostgreSQL (its GIN index has no segments).
pub fn merge_index(conn: &mut DbConn, steps: usize) -> QueryResult<bool> {
    use diesel::sql_types::BigInt;
    if !matches!(conn, DbConn::Sqlite(_)) {
        return Ok(false);
    }
    let changes = |c: &mut DbConn| {
        diesel::select(diesel::dsl::sql::<BigInt>("total_changes()")).get_result::<i64>(c)
    };
    for _ in 0..steps {
        let before = changes(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO members_search (members_search, rank) VALUES ('merge', -{MERGE_PAGES})"
        ))
        .execute(conn)?;
        if changes(conn)? - before < 2 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Recomputes one user's key from their row (after their name or address changed).
pub fn refresh_user(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    let row: Option<(String, String, String, String)> = users::table
        .find(id)
        .select((
            users::handle,
            users::first_name,
            users::last_name,
            users::email,
        ))
        .first(conn)
        .optional()?;
    if let Some((handle, first, last, email)) = row {
        diesel::update(users::table.find(id))
            .set(users::search_key.eq(user_key(&handle, &first, &last, &email)))
            .execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_space() {
        assert_eq!(fold("  Zoë  ÅNGSTRÖM\tﬁne "), "zoe angstrom fine");
        assert_eq!(
            user_key("ada-coder", "Ada", "Coder", "Ada@Example.com"),
            "ada-coder ada coder ada@example.com"
        );
    }

    #[test]
    fn a_part_signature_is_within_the_signature_of_a_key_holding_it() {
        assert_eq!(trigram_signature("ab"), (0, 0));
        // The value PostgreSQL's atrium_trigram_signature gives (tests/it/members.rs
        // compares the two on more keys).
        assert_eq!(
            trigram_signature("ovela"),
            (70_368_744_177_664, 4_831_838_208)
        );
        let key = user_key("ada-lovelace", "Ada", "Lovelace", "ada@example.com");
        let (klo, khi) = trigram_signature(&key);
        for part in ["ovela", "ada", "e.com", "lace ada", "ace a"] {
            let (plo, phi) = trigram_signature(part);
            assert_eq!((klo & plo, khi & phi), (plo, phi), "{part}");
        }
        let (plo, phi) = trigram_signature("zzq");
        assert_ne!((klo & plo, khi & phi), (plo, phi));
    }
}
