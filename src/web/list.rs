//! What a paged, searchable list page reads from its address: `?q=` (the search) and
//! `?after=` / `?before=` (the keyset cursor: the sort key of the last / first row shown).

use serde::Deserialize;

use crate::members::ops::Cursor;

/// The list's query: the filter and where the page starts.
#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    /// "Next": the page after this key.
    #[serde(default)]
    pub after: Option<String>,
    /// "Previous": the page before this key.
    #[serde(default)]
    pub before: Option<String>,
}

impl ListQuery {
    /// The filter (at most 100 characters) and the cursor (a handle or name is at most 100
    /// characters; anything longer, empty or holding NUL is not one: the first page).
    pub fn parts(&self) -> (String, Cursor) {
        let bounded =
            |h: &Option<String>| h.as_ref().map(|h| h.chars().take(100).collect::<String>());
        let cursor = match (bounded(&self.after), bounded(&self.before)) {
            (Some(h), _) if !h.is_empty() && !crate::db::holds_nul(&h) => Cursor::After(h),
            (_, Some(h)) if !h.is_empty() && !crate::db::holds_nul(&h) => Cursor::Before(h),
            _ => Cursor::First,
        };
        (self.q.chars().take(100).collect(), cursor)
    }

    /// `q=…` and the cursor, as query-string text (for links back to this page).
    pub fn encoded(&self) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let (q, cursor) = self.parts();
        match cursor {
            Cursor::After(h) => format!("q={}&after={}", enc(&q), enc(&h)),
            Cursor::Before(h) => format!("q={}&before={}", enc(&q), enc(&h)),
            Cursor::First => format!("q={}", enc(&q)),
        }
    }
}
