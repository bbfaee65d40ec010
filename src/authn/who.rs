//! Who asks, remembered between requests (SQLite only).
//!
//! Every page learns who asks from the database: the session, the user with their accounts,
//! and on a workspace page the workspace with the roles that decide the user's scopes
//! ([`super::session_store`], one trip); every API call, the key with its holder
//! (`api::auth`). On SQLite this cache keeps those answers per session and per key digest
//! and serves them again without a trip, for as long as nothing that could change them was
//! committed: any write to a table holding users, sessions, memberships, roles, workspaces,
//! grants, service accounts or keys moves the database's epoch on
//! ([`SharedSignal::epoch`]), through this process or — via the file beside the database —
//! any other Atrium process on the same database file. An answer from an earlier epoch is never served, so a log-out, removal or
//! role change counts at the next request, as without the cache.
//!
//! Writes made to the database file by other programs (the `sqlite3` shell) are not seen
//! that way: every answer is also forgotten [`MAX_AGE`] after it was read.
//!
//! PostgreSQL has no such cache: its instances may run on several hosts, and a change
//! through one must count on every other at the next request (README "Several instances"),
//! which only the database itself can tell.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::apikeys::Authenticated;
use crate::db::changes::SharedSignal;
use crate::users::model::Identity;
use crate::workspaces::access::Loaded;

/// How long an answer is kept at most, whatever the epoch says.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// Answers remembered at most (per kind); beyond it the oldest half is dropped.
const CAPACITY: usize = 10_000;

/// Answers older than [`MAX_AGE`] are swept out when the map reaches this size (and then
/// again at twice the size left), so that memory follows the sessions active in the last
/// two seconds, not every session seen.
const SWEEP_AT: usize = 256;

/// Workspaces remembered per session.
const WORKSPACES_PER_SESSION: usize = 16;

/// The (account id, workspace id) a workspace page names.
pub type WorkspaceKey = (String, String);

/// What a session's load read: its state and who it belongs to.
#[derive(Clone)]
pub struct Answer {
    /// The session's state (JSON), as stored.
    pub data: String,
    pub expires_at: chrono::NaiveDateTime,
    /// The signed-in user, with `identity` (`None` when that user no longer exists).
    pub user: Option<(String, Option<Identity>)>,
    /// Workspaces read for this session, with what was found (`None`: not theirs).
    pub workspaces: Vec<(WorkspaceKey, Option<Loaded>)>,
}

struct Entry<T> {
    epoch: u64,
    read_at: Instant,
    value: T,
}

/// Answers by id, each with the epoch it was read in.
struct Memo<T> {
    entries: Mutex<Entries<T>>,
}

struct Entries<T> {
    map: HashMap<String, Entry<T>>,
    /// The size at which old answers are swept out next.
    sweep_at: usize,
}

impl<T: Clone> Memo<T> {
    fn new() -> Self {
        Memo {
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    /// The answer for `id` if it was read in `epoch`, less than [`MAX_AGE`] ago.
    fn get(&self, id: &str, epoch: u64) -> Option<T> {
        let entries = self.entries.lock().ok()?;
        let e = entries.map.get(id)?;
        (e.epoch == epoch && e.read_at.elapsed() < MAX_AGE).then(|| e.value.clone())
    }

    fn put(&self, id: String, epoch: u64, value: T) {
        let Ok(mut guard) = self.entries.lock() else {
            return;
        };
        let entries = &mut *guard;
        if entries.map.len() >= entries.sweep_at && !entries.map.contains_key(&id) {
            entries
                .map
                .retain(|_, e| e.epoch == epoch && e.read_at.elapsed() < MAX_AGE);
            if entries.map.len() >= CAPACITY {
                let mut ages: Vec<Instant> = entries.map.values().map(|e| e.read_at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                entries.map.retain(|_, e| e.read_at > cut);
            }
            entries.sweep_at = (entries.map.len() * 2).clamp(SWEEP_AT, CAPACITY);
        }
        entries.map.insert(
            id,
            Entry {
                epoch,
                read_at: Instant::now(),
                value,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.map.len()).unwrap_or(0)
    }
}

/// See the module documentation. Shared by every worker of a server.
pub struct WhoCache {
    /// The database's change signal; without one (PostgreSQL) nothing would tell the cache
    /// of changes, so it keeps nothing.
    signal: Option<Arc<SharedSignal>>,
    /// By session digest.
    sessions: Memo<Answer>,
    /// By API key digest: the key and its holder.
    keys: Memo<Authenticated>,
}

impl WhoCache {
    /// A cache for a SQLite database with its change signal, or (`None`) one that keeps
    /// nothing.
    pub fn new(signal: Option<Arc<SharedSignal>>) -> Self {
        WhoCache {
            signal,
            sessions: Memo::new(),
            keys: Memo::new(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.signal.is_some()
    }

    /// The epoch to tag an answer with: read before the database is (so a change committed
    /// while it is read makes the answer old at once), after reading the other processes'
    /// signal.
    pub fn epoch(&self) -> u64 {
        match &self.signal {
            Some(s) => {
                s.sync();
                s.epoch()
            }
            None => 0,
        }
    }

    /// The answer for session `id` read in epoch `epoch`, if it is still current, the
    /// session has not expired, and it holds the workspace `wanted` (when one is).
    pub fn get(&self, id: &str, epoch: u64, wanted: Option<&WorkspaceKey>) -> Option<Answer> {
        if !self.is_on() {
            return None;
        }
        let answer = self.sessions.get(id, epoch)?;
        if answer.expires_at <= crate::db::now() {
            return None;
        }
        match wanted {
            Some(k) if !answer.workspaces.iter().any(|(w, _)| w == k) => None,
            _ => Some(answer),
        }
    }

    /// Keeps `answer` for session `id`, read in `epoch`. Workspaces of an answer from the
    /// same epoch are kept beside the new ones.
    pub fn put(&self, id: String, epoch: u64, mut answer: Answer) {
        if !self.is_on() {
            return;
        }
        if let Some(old) = self.sessions.get(&id, epoch)
            && old.user.as_ref().map(|u| &u.0) == answer.user.as_ref().map(|u| &u.0)
        {
            for (k, w) in old.workspaces {
                if answer.workspaces.len() >= WORKSPACES_PER_SESSION {
                    break;
                }
                if !answer.workspaces.iter().any(|(n, _)| *n == k) {
                    answer.workspaces.push((k, w));
                }
            }
        }
        self.sessions.put(id, epoch, answer);
    }

    /// The live key with digest `digest` and its holder, read in `epoch`, unless the key has
    /// expired since or its last use is due to be written again.
    pub fn key(&self, digest: &str, epoch: u64) -> Option<Authenticated> {
        if !self.is_on() {
            return None;
        }
        let found = self.keys.get(digest, epoch)?;
        let t = crate::db::now();
        let used_lately = found
            .key
            .last_used_at
            .is_some_and(|u| u >= t - crate::apikeys::LAST_USED_EVERY);
        (!found.key.is_expired_at(t) && used_lately).then_some(found)
    }

    /// Keeps the key with digest `digest` and its holder, read in `epoch`.
    pub fn put_key(&self, digest: String, epoch: u64, found: Authenticated) {
        if self.is_on() {
            self.keys.put(digest, epoch, found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(workspaces: &[&str]) -> Answer {
        Answer {
            data: "{}".into(),
            expires_at: crate::db::now() + chrono::TimeDelta::hours(1),
            user: None,
            workspaces: workspaces
                .iter()
                .map(|w| (("a".to_string(), w.to_string()), None))
                .collect(),
        }
    }

    /// A cache that is on: with the change signal of a database file of its own.
    fn on() -> WhoCache {
        let dir = std::env::temp_dir().join(format!("atrium-who-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let signal = SharedSignal::for_database(&dir.join("atrium.db"));
        assert!(signal.is_some(), "a change signal");
        WhoCache::new(signal)
    }

    #[test]
    fn an_answer_is_served_only_in_its_epoch_and_with_the_workspace_asked_for() {
        let cache = on();
        cache.put("s".into(), 7, answer(&["w1"]));
        assert!(cache.get("s", 7, None).is_some());
        let w1 = ("a".to_string(), "w1".to_string());
        let w2 = ("a".to_string(), "w2".to_string());
        assert!(cache.get("s", 7, Some(&w1)).is_some());
        assert!(cache.get("s", 7, Some(&w2)).is_none(), "not read yet");
        assert!(cache.get("s", 8, None).is_none(), "a change since");
        assert!(cache.get("other", 7, None).is_none());
        // The same epoch: the workspaces read before are kept.
        cache.put("s".into(), 7, answer(&["w2"]));
        assert!(cache.get("s", 7, Some(&w1)).is_some());
        assert!(cache.get("s", 7, Some(&w2)).is_some());
    }

    #[test]
    fn an_expired_session_or_an_old_answer_is_not_served() {
        let cache = on();
        let mut a = answer(&[]);
        a.expires_at = crate::db::now() - chrono::TimeDelta::seconds(1);
        cache.put("s".into(), 1, a);
        assert!(cache.get("s", 1, None).is_none(), "the session expired");
        cache.put("t".into(), 1, answer(&[]));
        if let Ok(mut e) = cache.sessions.entries.lock()
            && let Some(e) = e.map.get_mut("t")
        {
            e.read_at -= MAX_AGE;
        }
        assert!(cache.get("t", 1, None).is_none(), "read too long ago");
    }

    #[test]
    fn a_cache_that_is_off_keeps_nothing() {
        let cache = WhoCache::new(None);
        cache.put("s".into(), 1, answer(&[]));
        assert!(cache.get("s", 1, None).is_none());
    }

    #[test]
    fn answers_past_their_age_are_swept_out() {
        let cache = on();
        let epoch = 1;
        for i in 0..SWEEP_AT {
            cache.put(format!("s{i}"), epoch, answer(&[]));
        }
        if let Ok(mut e) = cache.sessions.entries.lock() {
            for e in e.map.values_mut() {
                e.read_at -= MAX_AGE;
            }
        }
        cache.put("new".into(), epoch, answer(&[]));
        assert_eq!(cache.sessions.len(), 1, "only the new one is left");
    }

    #[test]
    fn a_full_cache_drops_answers_instead_of_growing() {
        let cache = on();
        let epoch = 1;
        for i in 0..CAPACITY + 10 {
            cache.put(format!("s{i}"), epoch, answer(&[]));
        }
        let n = cache.sessions.len();
        assert!(n <= CAPACITY, "{n}");
    }
}
