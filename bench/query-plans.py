"""Plans and timings of the list statements, before and after the sort keys (issue #8).

    atrium seed (into DIR, SQLite)  then  python3 bench/query-plans.py DIR

Runs SQLite's EXPLAIN QUERY PLAN and times each statement (mean of 50) on the seeded database:
the statements the members page, the workspace members panel and the switcher ran before
the sort keys (BEFORE, run on the same data) and run now (AFTER). A quick check, not the
benchmark: bench/run measures whole requests.
"""
import sqlite3, time, sys
DIR = sys.argv[1] if len(sys.argv) > 1 else "bench/work"
db = sqlite3.connect(f"{DIR}/atrium.db")
env = dict(l.strip().split("=", 1) for l in open(f"{DIR}/seed.env") if "=" in l)
B, BW = env["BIG_ACCOUNT"], env["BIG_WORKSPACE"]
S = env["SMALL_ACCOUNT"]
owner = db.execute("SELECT id FROM users WHERE handle = ?", (env["BIG_OWNER"],)).fetchone()[0]
sowner = db.execute("SELECT id FROM users WHERE handle = ?", (env["SMALL_OWNER"],)).fetchone()[0]
print("sqlite", sqlite3.sqlite_version, "visits of the big owner:", db.execute("SELECT COUNT(*) FROM workspace_visits WHERE user_id=?", (owner,)).fetchone()[0])
COLS = "u.id, u.handle, u.first_name, u.last_name, u.email, m.role, u.last_login_at"
LIKE = "(lower(u.handle) LIKE ? ESCAPE '\\' OR u.email_normalized LIKE ? ESCAPE '\\' OR lower(u.first_name) LIKE ? ESCAPE '\\' OR lower(u.last_name) LIKE ? ESCAPE '\\')"
REACH_OLD = """(w.account_id IN (SELECT account_id FROM account_memberships WHERE user_id = :u AND role IN ('owner','admin'))
 OR w.id IN (SELECT workspace_id FROM workspace_access WHERE user_id = :u)
 OR (w.default_role_id IS NOT NULL AND w.account_id IN (SELECT account_id FROM account_memberships WHERE user_id = :u AND role <> 'collaborator')))"""
REACH_NEW = """(EXISTS (SELECT 1 FROM account_memberships m WHERE m.account_id = w.account_id AND m.user_id = :u
   AND (m.role IN ('owner','admin') OR (m.role <> 'collaborator' AND w.default_role_id IS NOT NULL)))
 OR EXISTS (SELECT 1 FROM workspace_access wa WHERE wa.workspace_id = w.id AND wa.user_id = :u))"""
p = "%lovelace%"
Q = [
 ("members p1 (10,001) BEFORE", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a ORDER BY u.handle, u.id LIMIT 50 OFFSET 0", {"a": B}),
 ("members p1 (101) BEFORE", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a ORDER BY u.handle, u.id LIMIT 50 OFFSET 0", {"a": S}),
 ("members p200 BEFORE", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a ORDER BY u.handle, u.id LIMIT 50 OFFSET 9950", {"a": B}),
 ("members filtered 'lovelace' page BEFORE", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a AND {LIKE.replace('?', ':p')} ORDER BY u.handle, u.id LIMIT 50", {"a": B, "p": p}),
 ("members filtered 'lovelace' count BEFORE", f"SELECT COUNT(*) FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a AND {LIKE.replace('?', ':p')}", {"a": B, "p": p}),
 ("members count BEFORE/AFTER", "SELECT COUNT(*) FROM account_memberships WHERE account_id=:a", {"a": B}),
 ("members p1 (10,001) AFTER", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a ORDER BY m.handle LIMIT 51", {"a": B}),
 ("members p1 (101) AFTER", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a ORDER BY m.handle LIMIT 51", {"a": S}),
 ("members last page (after=yukihiro-turing) AFTER", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a AND m.handle > 'yukihiro-turing' ORDER BY m.handle LIMIT 51", {"a": B}),
 ("members previous page (before=yukihiro-turing) AFTER", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a AND m.handle < 'yukihiro-turing' ORDER BY m.handle DESC LIMIT 51", {"a": B}),
 ("members filtered 'ada' page AFTER", f"SELECT {COLS} FROM account_memberships m JOIN users u ON u.id=m.user_id WHERE m.account_id=:a AND m.handle >= 'ada' AND m.handle < 'ada~' ORDER BY m.handle LIMIT 51", {"a": B}),
 ("members filtered 'ada' count AFTER", "SELECT COUNT(*) FROM account_memberships m WHERE m.account_id=:a AND m.handle >= 'ada' AND m.handle < 'ada~'", {"a": B}),
 ("panel p1 (5,001) BEFORE", "SELECT wa.id, u.handle, r.name FROM workspace_access wa JOIN users u ON u.id=wa.user_id JOIN workspace_roles r ON r.id=wa.role_id WHERE wa.workspace_id=:w AND u.handle > '' ORDER BY u.handle LIMIT 50", {"w": BW}),
 ("panel p1 (5,001) AFTER", "SELECT wa.id, u.handle, r.name FROM workspace_access wa JOIN users u ON u.id=wa.user_id JOIN workspace_roles r ON r.id=wa.role_id WHERE wa.workspace_id=:w AND wa.handle > '' ORDER BY wa.handle LIMIT 50", {"w": BW}),
 ("switcher (1,000) BEFORE", f"SELECT w.id, w.name, a.name, v.visited_at FROM workspaces w JOIN accounts a ON a.id=w.account_id LEFT JOIN workspace_visits v ON v.workspace_id=w.id AND v.user_id=:u WHERE {REACH_OLD} ORDER BY v.visited_at IS NULL, v.visited_at DESC, w.name, w.id LIMIT 50", {"u": owner}),
 ("switcher (10) BEFORE", f"SELECT w.id, w.name, a.name, v.visited_at FROM workspaces w JOIN accounts a ON a.id=w.account_id LEFT JOIN workspace_visits v ON v.workspace_id=w.id AND v.user_id=:u WHERE {REACH_OLD} ORDER BY v.visited_at IS NULL, v.visited_at DESC, w.name, w.id LIMIT 50", {"u": sowner}),
 ("switcher (1,000) AFTER read 1 (visits)", f"SELECT w.id, w.name, a.name, v.visited_at FROM workspace_visits v JOIN workspaces w ON w.id=v.workspace_id JOIN accounts a ON a.id=w.account_id WHERE v.user_id=:u AND {REACH_NEW} ORDER BY v.visited_at DESC, w.name, w.id LIMIT 50", {"u": owner}),
 ("switcher (10) AFTER read 1 (visits)", f"SELECT w.id, w.name, a.name, v.visited_at FROM workspace_visits v JOIN workspaces w ON w.id=v.workspace_id JOIN accounts a ON a.id=w.account_id WHERE v.user_id=:u AND {REACH_NEW} ORDER BY v.visited_at DESC, w.name, w.id LIMIT 50", {"u": sowner}),
 ("switcher user's accounts AFTER", "SELECT account_id FROM account_memberships WHERE user_id=:u", {"u": owner}),
 ("switcher (1,000) AFTER read 2 (by name, the big account)", f"SELECT w.id, w.name, a.name FROM workspaces w JOIN accounts a ON a.id=w.account_id WHERE w.id NOT IN (SELECT workspace_id FROM workspace_visits WHERE user_id=:u) AND w.account_id = :acc AND {REACH_NEW} ORDER BY w.name, w.id LIMIT 30", {"u": owner, "acc": B}),
 ("switcher (10) AFTER read 2 (by name, the small account)", f"SELECT w.id, w.name, a.name FROM workspaces w JOIN accounts a ON a.id=w.account_id WHERE w.id NOT IN (SELECT workspace_id FROM workspace_visits WHERE user_id=:u) AND w.account_id = :acc AND {REACH_NEW} ORDER BY w.name, w.id LIMIT 40", {"u": sowner, "acc": S}),
]
for name, sql, args in Q:
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, args)]
    n = len(db.execute(sql, args).fetchall())
    reps = 50
    t = time.perf_counter()
    for _ in range(reps):
        db.execute(sql, args).fetchall()
    ms = (time.perf_counter() - t) / reps * 1000
    print(f"\n## {name}: {n} rows, {ms:.3f} ms")
    for l in plan:
        print("   ", l)
