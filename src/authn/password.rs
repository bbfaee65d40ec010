//! Password hashing with Argon2id (RustCrypto defaults: m=19 MiB, t=2, p=1).

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// At most this many password hashes are computed at once: one per core. More would not
/// finish sooner (each keeps a core busy), but each holds a 19 MiB block, so a burst of
/// log-ins would grow the process by 19 MiB per concurrent attempt (issue #8's memory
/// budget; a flood of log-in attempts is also a way to exhaust memory).
fn permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

struct Permits {
    in_use: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

static PERMITS: Permits = Permits {
    in_use: std::sync::Mutex::new(0),
    freed: std::sync::Condvar::new(),
};

/// A permit to hash, released when dropped. Blocks (on a blocking-pool thread) until one
/// is free.
struct Permit;

impl Permit {
    fn acquire() -> Permit {
        let max = permits();
        // A poisoned lock only means another hash panicked; the count is still right.
        let mut in_use = PERMITS.in_use.lock().unwrap_or_else(|e| e.into_inner());
        while *in_use >= max {
            in_use = PERMITS
                .freed
                .wait(in_use)
                .unwrap_or_else(|e| e.into_inner());
        }
        *in_use += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut in_use = PERMITS.in_use.lock().unwrap_or_else(|e| e.into_inner());
        *in_use = in_use.saturating_sub(1);
        PERMITS.freed.notify_one();
    }
}

/// Hashes a password into a PHC string.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let _permit = Permit::acquire();
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Verifies a password against a stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    let _permit = Permit::acquire();
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real verification, for unknown users (no enumeration by timing).
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("atrium-dummy-password").unwrap_or_default());
    let _ = verify(password, stored);
}

/// True when a stored hash uses weaker parameters than today's policy (re-hash at log-in).
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(p) => {
            let d = Params::default();
            p.m_cost() < d.m_cost() || p.t_cost() < d.t_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_hashes_run_at_once_than_there_are_cores() {
        let busiest = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..4 * permits())
            .map(|_| {
                let busiest = busiest.clone();
                std::thread::spawn(move || {
                    let _permit = Permit::acquire();
                    let now = *PERMITS.in_use.lock().expect("lock");
                    busiest.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let busiest = busiest.load(std::sync::atomic::Ordering::SeqCst);
        assert!(busiest >= 1 && busiest <= permits(), "{busiest} at once");
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong", &h));
        assert!(!needs_rehash(&h));
        assert!(needs_rehash(
            "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$aGFzaA"
        ));
    }
}
