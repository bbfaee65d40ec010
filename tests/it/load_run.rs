//! The invariant check after the load run (`bench/load`, not in CI): the same checker every
//! integration test ends with (`support::invariants`), on the database the load run used.
//!
//! `ATRIUM_LOAD_DATABASE_URL=sqlite://…|postgres://… cargo test --test it -- --ignored --exact load_run::invariants_hold_after_the_load_run`

use crate::support::invariants;

#[test]
#[ignore = "run by bench/load on the database of a load run"]
fn invariants_hold_after_the_load_run() {
    let url = std::env::var("ATRIUM_LOAD_DATABASE_URL")
        .expect("ATRIUM_LOAD_DATABASE_URL: the database of the load run");
    let backend = atrium::settings::backend_of(&url).expect("a sqlite:// or postgres:// URL");
    let pool = atrium::db::connect(backend, &url, 1).expect("connect to the load run's database");
    let mut conn = pool.get().expect("a connection");
    let found = invariants::check(&mut conn);
    assert!(
        found.is_empty(),
        "the load run left data that breaks Atrium's invariants:\n  {}",
        found.join("\n  ")
    );
    println!(
        "load_run: invariant check clean ({} rules and the foreign keys)",
        invariants::CHECKS.len()
    );
}
