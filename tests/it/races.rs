//! The races of SECURITY.md §3.2 (scenarios 1, 3, 4, 6, 7 and 14). Each round releases
//! real threads together with a barrier; each thread holds its own pooled connection and
//! calls the same transaction the request handlers call. Every round must end in exactly
//! one allowed outcome, and the invariant checker must find nothing after it, on SQLite
//! (a write transaction takes the write lock with its first statement, like `BEGIN
//! IMMEDIATE`) and on PostgreSQL (the account rows are locked first, in id order).
//!
//! `ATRIUM_RACE_ROUNDS` sets the number of rounds (default 100).

use std::sync::Barrier;
use std::time::{Duration, Instant};

use atrium::accounts::model::{self as accounts, AccountKind, AccountRole};
use atrium::apikeys::{self, KeyHolder};
use atrium::audit::Actor;
use atrium::db::{DbConn, Pool, write_tx};
use atrium::invitations::ops::{Accepted, Invited, Unusable};
use atrium::outcome::{OpError, Reason, Refusal};
use atrium::service_accounts::ops::{self as sa, NewServiceAccount, Who};
use atrium::settings::AppConfig;
use atrium::transfers::ops::{self as transfers, TransferError};
use atrium::users::domain::Email;
use atrium::users::model::{NewUser, User};
use atrium::workspaces::model::{self as wsm, NewWorkspace, Workspace};

use crate::support::{TestApp, spawn_app};

fn rounds() -> usize {
    std::env::var("ATRIUM_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// A pool of its own, large enough for every racing thread to hold a connection.
fn race_pool(app: &TestApp, size: u32) -> Pool {
    atrium::db::connect(app.settings.backend, &app.settings.database_url, size).expect("race pool")
}

/// Runs `f(i, connection)` on `n` threads at once: each takes its connection first, then
/// all wait at one barrier and go together.
fn race<T: Send>(pool: &Pool, n: usize, f: impl Fn(usize, &mut DbConn) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, f) = (&barrier, &f);
                s.spawn(move || {
                    let mut c = pool.get().expect("connection for a racing thread");
                    barrier.wait();
                    f(i, &mut c)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("racing thread"))
            .collect()
    })
}

fn assert_clean(app: &TestApp, what: &str, round: usize) {
    let found = app.invariant_violations();
    assert!(
        found.is_empty(),
        "{what}, round {round}: the invariants break:\n  {}",
        found.join("\n  ")
    );
}

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0Zl5Xh8qQbA9b3bX2cS2mQ0wQd5nU9p2f8kYz1oTf1E";

fn user(c: &mut DbConn, handle: &str) -> User {
    let email = format!("{handle}@example.com");
    write_tx(c, |c| {
        atrium::users::model::create_with_personal_account(
            c,
            &NewUser {
                email: &email,
                email_normalized: &email,
                handle,
                first_name: "Race",
                last_name: handle,
                password_hash: HASH,
            },
        )
    })
    .expect("user")
}

fn org(c: &mut DbConn, handle: &str, owner: &User) -> accounts::Account {
    write_tx(c, |c| {
        accounts::create(c, AccountKind::Organization, handle, handle, &owner.id)
    })
    .expect("organization")
}

fn workspace(c: &mut DbConn, account_id: &str, handle: &str, owner: &User) -> Workspace {
    write_tx(c, |c| {
        wsm::create(
            c,
            &NewWorkspace {
                account_id,
                name: handle,
                handle,
                description: "",
            },
            &owner.id,
        )
    })
    .expect("workspace")
}

fn actor(u: &User) -> Actor {
    atrium::audit::Actor::user(u)
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.count(sql)
}

/// Scenario 1: two Owners demote or remove each other at once. Each checks "another
/// Owner is left" and would commit without serialization, leaving none.
#[tokio::test(flavor = "multi_thread")]
async fn two_owners_demoting_or_removing_each_other_leave_exactly_one_owner() {
    let app = spawn_app().await;
    let pool = race_pool(&app, 4);
    let mut c = pool.get().expect("conn");
    let (ana, bo) = (user(&mut c, "ana"), user(&mut c, "bo"));
    drop(c);
    for round in 0..rounds() {
        let mut c = pool.get().expect("conn");
        let acct = org(&mut c, &format!("owners-{round}"), &ana);
        atrium::members::model::add_member(&mut c, &acct.id, &bo.id, AccountRole::Owner)
            .expect("second owner");
        drop(c);
        let remove = round % 2 == 1;
        let outcomes = race(&pool, 2, |i, c| {
            let (me, other) = if i == 0 { (&ana, &bo) } else { (&bo, &ana) };
            let ip = "127.0.0.1".to_string();
            let (account, other) = (acct.key(), other.key());
            if remove {
                atrium::members::ops::remove(c, &account, me, &other, ip)
            } else {
                atrium::members::ops::change_role(c, &account, me, &other, AccountRole::Member, ip)
                    .map(|_| ())
            }
        });
        let done = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(done, 1, "round {round} (remove: {remove}): one change wins");
        for o in &outcomes {
            match o {
                Ok(()) => {}
                // The loser finds the last-Owner rule, or (demoted or removed) no longer
                // has the right.
                Err(OpError::Refused(Refusal::Conflict(why))) => {
                    assert_eq!(*why, Reason::LastOwner, "{why}")
                }
                Err(OpError::Refused(Refusal::Forbidden(None))) => {}
                Err(OpError::Refused(Refusal::NotFound)) => {}
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
        }
        let mut c = pool.get().expect("conn");
        assert_eq!(
            atrium::members::model::count_owners(&mut c, &acct.id).expect("owners"),
            1
        );
        drop(c);
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{}' AND action IN ('atrium.member.role_changed', 'atrium.member.removed')",
                    acct.id
                )
            ),
            1,
            "round {round}: one audit row for the one change"
        );
        assert_clean(&app, "two owners", round);
    }
}

/// What a transfer outcome was, for counting.
fn moved(r: &Result<transfers::Preview, TransferError>) -> bool {
    match r {
        Ok(_) => true,
        Err(TransferError::Gone) => false,
        Err(e) => panic!("unexpected transfer error {e:?}"),
    }
}

fn transfer(
    c: &mut DbConn,
    from: &str,
    ws: &str,
    to: &str,
    who: &User,
) -> Result<transfers::Preview, TransferError> {
    write_tx(c, |c| {
        transfers::lock_accounts(c, from, to)?;
        transfers::execute(
            c,
            &transfers::Move {
                source_id: from,
                workspace_id: ws,
                target_id: to,
                new_handle: "",
            },
            &actor(who),
            Some("127.0.0.1".into()),
            None,
        )
    })
}

/// Scenarios 3 and 4: a transfer racing a delete of the same workspace, and two transfers
/// of one workspace to different accounts. Exactly one wins; the other finds it gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_racing_a_delete_or_another_transfer_has_exactly_one_outcome() {
    let app = spawn_app().await;
    let pool = race_pool(&app, 4);
    let mut c = pool.get().expect("conn");
    let ana = user(&mut c, "ana");
    let (acme, beta, gamma) = (
        org(&mut c, "acme", &ana),
        org(&mut c, "beta", &ana),
        org(&mut c, "gamma", &ana),
    );
    drop(c);
    for round in 0..rounds() {
        let mut c = pool.get().expect("conn");
        let ws = workspace(&mut c, &acme.id, &format!("w{round}"), &ana);
        drop(c);
        let against_delete = round % 2 == 0;
        let mut deleted_round = false;
        if against_delete {
            let outcomes = race(&pool, 2, |i, c| {
                if i == 0 {
                    (Some(transfer(c, &acme.id, &ws.id, &beta.id, &ana)), None)
                } else {
                    let deleted =
                        atrium::workspaces::ops::delete(c, &ws, actor(&ana), "127.0.0.1".into());
                    (None, Some(deleted))
                }
            });
            let transferred = outcomes[0].0.as_ref().is_some_and(moved);
            let deleted = match &outcomes[1].1 {
                Some(Ok(())) => true,
                Some(Err(OpError::Refused(Refusal::NotFound))) => false,
                other => panic!("round {round}: delete answered {other:?}"),
            };
            deleted_round = deleted;
            assert!(
                transferred ^ deleted,
                "round {round}: transferred {transferred}, deleted {deleted}"
            );
            let in_beta = count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM workspaces WHERE id = '{}' AND account_id = '{}'",
                    ws.id, beta.id
                ),
            );
            assert_eq!(in_beta, i64::from(transferred), "round {round}");
        } else {
            let outcomes = race(&pool, 2, |i, c| {
                let to = if i == 0 { &beta.id } else { &gamma.id };
                transfer(c, &acme.id, &ws.id, to, &ana)
            });
            let wins: Vec<bool> = outcomes.iter().map(moved).collect();
            assert_eq!(
                wins.iter().filter(|w| **w).count(),
                1,
                "round {round}: {wins:?}"
            );
            let winner = if wins[0] { &beta.id } else { &gamma.id };
            assert_eq!(
                count(
                    &app,
                    &format!(
                        "SELECT COUNT(*) AS n FROM workspaces WHERE id = '{}' AND account_id = '{winner}'",
                        ws.id
                    )
                ),
                1,
                "round {round}: the workspace is where the winner put it"
            );
        }
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM audit_events WHERE workspace_id = '{}' AND action IN ('atrium.workspace.transferred', 'atrium.workspace.deleted')",
                    ws.id
                )
            ),
            if deleted_round { 1 } else { 2 },
            "round {round}: a delete is one row, a transfer one in each account"
        );
        assert_clean(&app, "transfer race", round);
    }
}

fn config(app: &TestApp) -> AppConfig {
    AppConfig {
        settings: app.settings.clone(),
        public_url: url::Url::parse(&app.base).expect("base"),
        link_key: vec![7; 32],
        sealer: atrium::sealed::Sealer::new(&[7; 32]),
    }
}

/// An invitation of `email` to `account` as Member; returns its id and code.
fn invite(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &accounts::Account,
    email: &str,
    by: &User,
) -> (String, String) {
    let email = Email::parse(email).expect("email");
    let invited = write_tx(c, |c| {
        atrium::invitations::ops::invite_address(
            c,
            cfg,
            account,
            &email,
            AccountRole::Member,
            by,
            "127.0.0.1",
        )
    })
    .expect("invite");
    match invited {
        Invited::Sent { inv, .. } => {
            let code = atrium::invitations::model::code_for(&cfg.link_key, &inv.code_salt);
            (inv.id.clone(), code)
        }
        _ => panic!("not invited"),
    }
}

/// Scenario 6: one invitation accepted by 20 requests at once (double clicks, tabs): one
/// membership, one acceptance recorded; the others land on the account as a member.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_accepts_of_one_invitation_make_one_membership() {
    let app = spawn_app().await;
    let cfg = config(&app);
    let pool = race_pool(&app, 21);
    let mut c = pool.get().expect("conn");
    let (ana, cy) = (user(&mut c, "ana"), user(&mut c, "cy"));
    drop(c);
    for round in 0..rounds() / 2 {
        let mut c = pool.get().expect("conn");
        let acct = org(&mut c, &format!("twenty-{round}"), &ana);
        let (id, code) = invite(&mut c, &cfg, &acct, "cy@example.com", &ana);
        drop(c);
        let outcomes = race(&pool, 20, |_, c| {
            atrium::invitations::ops::accept_invitation(c, &id, &code, &cy, "127.0.0.1")
        });
        let joined = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Accepted::Joined(_))))
            .count();
        assert_eq!(joined, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Ok(Accepted::Joined(_)) | Ok(Accepted::AlreadyMember(_)))),
            "round {round}: {outcomes:?}"
        );
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM account_memberships WHERE account_id = '{}' AND user_id = '{}'",
                    acct.id, cy.id
                )
            ),
            1
        );
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{}' AND action = 'atrium.invitation.accepted'",
                    acct.id
                )
            ),
            1
        );
        assert_clean(&app, "twenty accepts", round);
    }
}

/// Scenario 7: accept racing revoke. Either the invitee is a member and the invitation
/// accepted (the revoke changed nothing), or it is revoked and nobody joined.
#[tokio::test(flavor = "multi_thread")]
async fn accept_racing_revoke_ends_as_member_or_as_revoked_never_both() {
    let app = spawn_app().await;
    let cfg = config(&app);
    let pool = race_pool(&app, 4);
    let mut c = pool.get().expect("conn");
    let (ana, cy) = (user(&mut c, "ana"), user(&mut c, "cy"));
    drop(c);
    let (mut accepted_rounds, mut revoked_rounds) = (0, 0);
    for round in 0..rounds() {
        let mut c = pool.get().expect("conn");
        let acct = org(&mut c, &format!("revoke-{round}"), &ana);
        let (id, code) = invite(&mut c, &cfg, &acct, "cy@example.com", &ana);
        drop(c);
        let outcomes = race(&pool, 2, |i, c| {
            if i == 0 {
                Some(atrium::invitations::ops::accept_invitation(
                    c,
                    &id,
                    &code,
                    &cy,
                    "127.0.0.1",
                ))
            } else {
                atrium::invitations::ops::revoke(
                    c,
                    &acct.key(),
                    &atrium::ids::InvitationId::from_stored(id.clone()),
                    actor(&ana),
                    "127.0.0.1",
                )
                .expect("revoke");
                None
            }
        });
        let member = count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM account_memberships WHERE account_id = '{}' AND user_id = '{}'",
                acct.id, cy.id
            ),
        );
        let status_is = |s: &str| {
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM invitations WHERE id = '{id}' AND status = '{s}'"
                ),
            ) == 1
        };
        let events = |a: &str| {
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{}' AND action = '{a}'",
                    acct.id
                ),
            )
        };
        match &outcomes[0] {
            Some(Ok(Accepted::Joined(_))) => {
                accepted_rounds += 1;
                assert_eq!(member, 1, "round {round}");
                assert!(status_is("accepted"), "round {round}");
                assert_eq!(events("atrium.invitation.revoked"), 0, "round {round}");
            }
            Some(Ok(Accepted::Problem(Unusable::Revoked))) => {
                revoked_rounds += 1;
                assert_eq!(member, 0, "round {round}");
                assert!(status_is("revoked"), "round {round}");
                assert_eq!(events("atrium.invitation.accepted"), 0, "round {round}");
                assert_eq!(events("atrium.invitation.revoked"), 1, "round {round}");
            }
            other => panic!("round {round}: accept answered {other:?}"),
        }
        assert_clean(&app, "accept against revoke", round);
    }
    eprintln!("accept vs revoke: accepted {accepted_rounds}, revoked {revoked_rounds}");
}

/// Scenario 14: a service account's key used by three threads while another rotates it
/// without overlap. Any use that starts after the rotation committed is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_used_while_it_is_rotated_stops_working_when_the_rotation_commits() {
    let app = spawn_app().await;
    let pool = race_pool(&app, 5);
    let mut c = pool.get().expect("conn");
    let ana = user(&mut c, "ana");
    let acct = org(&mut c, "keys", &ana);
    let who = Who {
        holder: KeyHolder::User(ana.clone()),
        ip: "127.0.0.1".into(),
    };
    drop(c);
    let (mut before, mut refused) = (0usize, 0usize);
    for round in 0..rounds() / 2 {
        let mut c = pool.get().expect("conn");
        let created = sa::create(
            &mut c,
            &who,
            &acct.id,
            NewServiceAccount {
                name: format!("bot {round}"),
                expires_at: None,
                access: None,
            },
        )
        .unwrap_or_else(|e| panic!("service account: {e:?}"));
        drop(c);
        let old = created.plain.clone();
        // (when each use started, whether it was let in); the rotation's commit time.
        let results = race(&pool, 4, |i, c| {
            if i == 0 {
                std::thread::sleep(Duration::from_millis(2));
                sa::rotate(
                    c,
                    &who,
                    &acct.id,
                    &atrium::ids::ServiceAccountId::from_stored(created.sa.id.clone()),
                    None,
                    None,
                )
                .unwrap_or_else(|e| panic!("rotate: {e:?}"));
                (Vec::new(), Some(Instant::now()))
            } else {
                let mut uses = Vec::new();
                let until = Instant::now() + Duration::from_millis(40);
                while Instant::now() < until {
                    let start = Instant::now();
                    let ok = apikeys::authenticate(c, &old)
                        .expect("authenticate")
                        .is_some();
                    uses.push((start, ok));
                }
                (uses, None)
            }
        });
        let committed = results[0].1.expect("rotation time");
        for (start, ok) in results.iter().flat_map(|(u, _)| u) {
            if *start > committed {
                assert!(
                    !ok,
                    "round {round}: the old key worked after the rotation committed"
                );
                refused += 1;
            } else if *ok {
                before += 1;
            }
        }
        assert_clean(&app, "key rotation", round);
    }
    assert!(
        before > 0 && refused > 0,
        "the uses overlapped the rotation ({before} before, {refused} after)"
    );
}
