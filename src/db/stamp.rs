//! [`Stamp`]: a `TIMESTAMP` read without chrono's format parser on SQLite.
//!
//! SQLite keeps timestamps as text, and Diesel reads one by trying chrono's
//! `parse_from_str` with up to 18 formats, each parsed from its pattern string at every
//! call: for the members page's "Last log-in" column that was some 2.5% of the page's CPU
//! (`perf`, 50 rows). The text Atrium writes (`YYYY-MM-DD HH:MM:SS`, with up to nine
//! digits of fraction) is read here from its fixed positions; anything else goes to
//! Diesel's own reader, as before. PostgreSQL's binary timestamps are Diesel's.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::Sqlite;

use super::MultiBackend;

/// A `TIMESTAMP` column's value (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromSqlRow)]
pub struct Stamp(pub NaiveDateTime);

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(
        mut value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        if let Some(at) = parse(value.read_text()) {
            return Ok(Stamp(at));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(
        value: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(
        value: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1 to 9 digits of fraction; `None` for
/// anything else (then Diesel's reader decides).
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20, b.len())?;
            n * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_nano_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        nanos,
    )
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_what_atrium_writes_and_leaves_the_rest_to_diesel() {
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%F %T%.f").ok();
        for text in [
            "2026-12-06 22:38:00",
            "2026-12-06 22:38:00.5",
            "2026-12-06 22:38:00.123456",
            "2026-12-06 22:38:00.123456789",
            "1999-01-31 00:00:59",
        ] {
            assert_eq!(parse(text), at(text), "{text}");
            assert!(parse(text).is_some(), "{text}");
        }
        for text in [
            "",
            "2026-12-06",
            "2026-12-06T22:38:00",
            "2026-12-06 22:38",
            "2026-12-06 22:38:00Z",
            "2026-12-06 22:38:00+00:00",
            "2026-12-06 22:38:00.",
            "2026-12-06 22:38:00.1234567891",
            "2026-13-06 22:38:00",
            "2026-02-30 22:38:00",
            "2026-12-06 24:00:00",
            "2026-1a-06 22:38:00",
            "2459000.5",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
