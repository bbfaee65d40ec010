//! The process's allocators: mimalloc for Rust's allocations, and glibc's settings for
//! what the C libraries (SQLite, libpq) allocate with `malloc`.
//!
//! **mimalloc** ([`ALLOCATOR`], for every binary linking this library: the server, the
//! benchmark's baseline, the tests). Under load glibc's allocator cost the signed-in pages
//! about a tenth of their CPU (`_int_malloc`, `malloc_consolidate`, `_int_free`, and arena
//! lock waits in `perf`, issue #8); with mimalloc the permission-denied page went from 177
//! to 156 µs on SQLite, the API's list from 360 to 299 µs. Its arenas are committed as
//! they are used, not up front ([`tune_allocator`]): committed eagerly, the server sat at
//! 204 MiB after the benchmark's page rounds instead of 87 MiB.
//!
//! **glibc** (SQLite's and libpq's allocations). Each password check once allocated one
//! 19 MiB block through glibc, which after the first such free raised its "dynamic mmap
//! threshold" to the block's size, so the blocks stayed resident in per-thread arenas (146
//! → 689 MiB under a burst of log-ins). A fixed threshold keeps large blocks on `mmap`; a
//! bounded number of arenas keeps the many short-lived blocking threads from each holding
//! their own.

/// Rust's allocator in every binary that links Atrium.
#[global_allocator]
pub static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` (the bundled mimalloc 3's `mimalloc.h`; the
/// binding crate's own constants are mimalloc 2's).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Sets mimalloc's options before mimalloc starts: it reads them when the process loads
/// (its own constructor, priority 101) and creates its first arena on the first allocation,
/// both before `main`; an option set later does not apply to that arena. Priorities up to
/// 100 run first.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static MIMALLOC_OPTIONS: extern "C" fn() = mimalloc_options;

#[cfg(target_os = "linux")]
extern "C" fn mimalloc_options() {
    // SAFETY: writes one entry of mimalloc's static option table, to a value it documents
    // (0: commit arena memory as it is used, so that freed memory can be returned).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

/// Blocks from this size up are mapped and unmapped on their own (glibc).
pub const MMAP_THRESHOLD: i32 = 1024 * 1024;

/// At most this many malloc arenas (glibc's default is 8 per core).
pub const ARENA_MAX: i32 = 4;

/// Applies glibc's settings; call once, first thing in `main`. Returns whether glibc took
/// them (elsewhere there are none to take). mimalloc's are set when the process loads.
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

    #[cfg(target_os = "linux")]
    #[test]
    fn mimalloc_commits_arena_memory_as_used_from_the_start() {
        // Set by the load-time constructor, before this test (or `main`) runs.
        // SAFETY: reads an option.
        let eager = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT) };
        assert_eq!(eager, 0);
        // Its neighbours keep mimalloc 3's documented defaults: the constant is not off
        // by one (deprecated_eager_commit = 1 before it, purge_decommits = 1 after it).
        // SAFETY: reads options.
        let (before, after) = unsafe {
            (
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT - 1),
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT + 1),
            )
        };
        assert_eq!((before, after), (1, 1));
    }

    #[test]
    fn glibc_takes_its_settings() {
        assert_eq!(
            tune_allocator(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
    }
}
