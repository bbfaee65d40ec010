//! The process's allocator settings (glibc only; elsewhere nothing).
//!
//! Each password check (argon2id, m = 19 MiB) allocates one 19 MiB block. glibc serves a
//! block that large with `mmap` and returns it on free — until the first such free, which
//! raises its "dynamic mmap threshold" to the block's size: from then on every 19 MiB block
//! comes from the heap arena of whichever blocking-pool thread runs the check, and freed
//! arena memory mostly stays resident. Under a burst of log-ins the process grew from
//! 146 MiB to 689 MiB that way (`bench/run`, issue #8). A fixed threshold keeps large
//! blocks on `mmap`, so they go back to the system when freed; a bounded number of arenas
//! keeps the many short-lived blocking threads from each holding their own.

/// Blocks from this size up are mapped and unmapped on their own.
pub const MMAP_THRESHOLD: i32 = 1024 * 1024;

/// At most this many malloc arenas (glibc's default is 8 per core).
pub const ARENA_MAX: i32 = 4;

/// Applies the settings; call once, first thing in `main`. Returns whether glibc took them.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both values are in range.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_takes_the_settings() {
        assert_eq!(
            tune_allocator(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}
