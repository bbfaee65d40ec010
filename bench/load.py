#!/usr/bin/env python3
"""Atrium's load run (issue #9 item 5; started by bench/load, which builds).

For each backend: seed a small tenant into a fresh database, start the release binary on
127.0.0.1, log the tenant's Owner in a few times through the real form, then drive
LOAD_CONNECTIONS keep-alive connections (one thread each) for LOAD_DURATION seconds with a
mix of page views (dashboard, members page, workspace switcher), htmx role changes,
invitations and their acceptance (the invitee signs up from the link in the e-mail, which
Atrium writes as an .eml file to its outbox folder). Every request is bounded (30 s
timeout) and the run stops by itself. Afterwards: responses by status, p50/p99, any 5xx,
any status an action should not get (EXPECTED: a page view answers 200, nothing else; each
such response is listed with its path), any "database is locked" in a response or the server
log, and the invariant checker (tests/it/support/invariants.rs, through
`cargo test --test it -- --ignored load_run`) on the database. Writes
bench/results/load-<backend>.md and exits non-zero when a check fails.

It prints the command it was run with first (and writes it into each report). Everything a
backend's run uses (its seed, the members pages found on it, sessions, statistics) belongs
to that run: nothing is kept at module level, so running both backends in one process
measures each against its own data.
"""

import argparse
import collections
import datetime
import email
import email.policy
import glob
import html as html_lib
import http.client
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

from benchlib import redact

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = int(os.environ.get("LOAD_PORT", "18010"))
CONNECTIONS = int(os.environ.get("LOAD_CONNECTIONS", "64"))
DURATION = int(os.environ.get("LOAD_DURATION", "60"))
PG_ADMIN = os.environ.get(
    "ATRIUM_BENCH_POSTGRES_URL",
    os.environ.get("ATRIUM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
)
PG_DB = "atrium_load"
SEED_ARGS = ["--members", "200", "--workspaces", "20", "--accesses", "100",
             "--service-accounts", "2", "--bot-workspaces", "2", "--audit-events", "2000",
             "--small-members", "10", "--small-workspaces", "2"]
SESSIONS = 4
# What a worker does, by weight. Invitations are rare: each acceptance is a sign-up
# (an argon2id hash), which costs as much CPU as a hundred page views.
MIX = [("dashboard", 30), ("members", 25), ("switcher", 20), ("role", 23), ("invite", 2)]
# The statuses each action may answer; any other fails the run (5xx are reported apart).
# A page view answers 200 and nothing else: a 404 there means the driver asked for
# something that does not exist on this backend's data, or access broke.
EXPECTED = {
    "dashboard": {200},
    "members": {200},
    "switcher": {200},
    # 422: the change is refused (e.g. it would leave no Owner; never here, the Owner is
    # not changed).
    "role": {200, 422},
    "invite": {200},
    "accept (open link)": {200},
    "accept (sign-up form)": {200},
    "accept (sign up)": {303},
}
LOCKED = re.compile(r"database is locked|database table is locked|SQLITE_BUSY", re.I)


def log(msg):
    print(f"load: {msg}", file=sys.stderr, flush=True)


def command_line(argv=None, environ=None):
    """The command this process runs, as one could type it again: the LOAD_* and
    PostgreSQL settings that change the run (password hidden), then the argv."""
    environ = os.environ if environ is None else environ
    argv = argv if argv is not None else getattr(sys, "orig_argv", [sys.executable, *sys.argv])
    env = []
    for k in sorted(environ):
        if k.startswith("LOAD_"):
            env.append(f"{k}={shlex.quote(environ[k])}")
        elif k in ("ATRIUM_BENCH_POSTGRES_URL", "ATRIUM_TEST_POSTGRES_URL"):
            env.append(f"{k}={shlex.quote(redact(environ[k]))}")
    return " ".join(env + [shlex.join(argv)])


def shown_path(path):
    """A request path to report: an invitation's code is not printed."""
    return re.sub(r"code=[^&]+", "code=…", path)


def pg_admin(sql):
    subprocess.run(["psql", PG_ADMIN, "-qAtc", sql], check=True, capture_output=True)


def wait_http(path="/healthz", timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {PORT}")


class Conn:
    """One keep-alive connection with a cookie and the last CSRF token seen."""

    def __init__(self, cookie=None):
        self.c = None
        self.cookie = cookie
        self.token = None

    def request(self, method, path, headers=None, body=None):
        hs = dict(headers or {})
        if self.cookie:
            hs["Cookie"] = f"atrium_session={self.cookie}"
        if body is not None:
            hs["Content-Type"] = "application/x-www-form-urlencoded"
            hs["Origin"] = f"http://127.0.0.1:{PORT}"
            body = urllib.parse.urlencode(body)
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            try:
                self.c.request(method, path, body=body, headers=hs)
                r = self.c.getresponse()
                data = r.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection: once more on a new one.
                self.c.close()
                self.c = None
                if attempt:
                    raise
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("atrium_session="):
                self.cookie = v.split(";", 1)[0].split("=", 1)[1]
        m = re.search(r'name="csrf_token" value="([^"]+)"', data) or re.search(
            r'"X-CSRF-Token":"([^"]+)"', data)
        if m:
            self.token = m.group(1)
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def login(handle, password):
    c = Conn()
    c.request("GET", "/auth/login")
    status, _, _ = c.request("POST", "/auth/login",
                             body={"login": handle, "password": password, "csrf_token": c.token})
    if status != 303:
        raise RuntimeError(f"log-in of {handle}: {status}")
    return c.cookie


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_status = collections.Counter()
        self.by_action = collections.defaultdict(collections.Counter)
        self.times = []
        self.errors = collections.Counter()
        self.locked = []
        self.server_errors = []
        # (action, "METHOD path", status) -> count, for statuses EXPECTED does not allow.
        self.unexpected = collections.Counter()

    def record(self, action, method, path, status, took, body):
        where = f"{method} {shown_path(path)}"
        with self.lock:
            self.by_status[status] += 1
            self.by_action[action][status] += 1
            self.times.append(took)
            if LOCKED.search(body):
                self.locked.append(f"{action} {where} {status}: {body[:200]}")
            if status >= 500:
                self.server_errors.append(f"{action} {where} {status}: {body[:300]}")
            elif status not in EXPECTED[action]:
                self.unexpected[(action, where, status)] += 1


class Invites:
    """Invitations sent, and their links once the .eml file is written."""

    def __init__(self, outbox):
        self.outbox = outbox
        self.lock = threading.Lock()
        self.sent = set()  # addresses invited, link not seen yet
        self.ready = []  # (address, path with code)
        self.seen = set()
        self.accepted = 0

    def scan(self):
        for path in glob.glob(os.path.join(self.outbox, "*.eml")):
            if path in self.seen:
                continue
            self.seen.add(path)
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            to = str(msg["To"]).strip().strip("<>").lower()
            part = msg.get_body(preferencelist=("plain",))
            text = part.get_content() if part else ""
            m = re.search(r"http://127\.0\.0\.1:\d+(/invitations/[0-9a-f-]+\?code=[\w-]+)", text)
            with self.lock:
                if m and to in self.sent:
                    self.sent.discard(to)
                    self.ready.append((to, m.group(1)))

    def take(self):
        with self.lock:
            return self.ready.pop() if self.ready else None


def worker(i, stop, seed, sessions, members, member_pages, invites, stats):
    """One connection's loop until `stop`. Everything it touches is this backend's run:
    `member_pages` are the members pages found on this run's seed."""
    rnd = random.Random(i)
    A, W = seed["BIG_ACCOUNT"], seed["BIG_WORKSPACE"]
    conn = Conn(sessions[i % len(sessions)])
    names, weights = zip(*MIX)
    while time.time() < stop:
        action = "accept" if invites.ready and rnd.random() < 0.5 else \
            rnd.choices(names, weights)[0]
        method, path = "GET", ""
        t = time.perf_counter()
        try:
            if action == "dashboard":
                path = f"/account/{A}/workspace/{W}/dashboard"
                s, _, body = conn.request(method, path)
            elif action == "members":
                path = rnd.choice(member_pages)
                s, _, body = conn.request(method, path)
            elif action == "switcher":
                path = "/switcher"
                s, _, body = conn.request(method, path, {"HX-Request": "true"})
            elif action == "role":
                if not conn.token:
                    conn.request("GET", f"/account/{A}/members")
                    t = time.perf_counter()
                uid = rnd.choice(members)
                method, path = "POST", f"/account/{A}/members/{uid}/role"
                s, _, body = conn.request(
                    method, path,
                    {"HX-Request": "true", "X-CSRF-Token": conn.token},
                    {"role": rnd.choice(["admin", "member"])})
            elif action == "invite":
                if not conn.token:
                    conn.request("GET", f"/account/{A}/members")
                    t = time.perf_counter()
                to = f"load-{uuid.uuid4().hex[:12]}@example.com"
                with invites.lock:
                    invites.sent.add(to)
                method, path = "POST", f"/account/{A}/invitations"
                s, _, body = conn.request(
                    method, path,
                    {"HX-Request": "true", "X-CSRF-Token": conn.token},
                    {"emails": to, "role": rnd.choice(["member", "admin"])})
            else:  # accept: the invitee opens the link and signs up (a new browser)
                got = invites.take()
                if not got:
                    continue
                to, path = got
                invitee = Conn()
                inv_id, code = path[len("/invitations/"):].split("?code=")
                s, _, body = invitee.request("GET", path)
                stats.record("accept (open link)", "GET", path, s, time.perf_counter() - t, body)
                t = time.perf_counter()
                path = f"/invitations/{inv_id}/signup?code={code}"
                s, _, body = invitee.request("GET", path)
                stats.record("accept (sign-up form)", "GET", path, s,
                             time.perf_counter() - t, body)
                t = time.perf_counter()
                handle = "l" + to.split("@")[0].split("-")[1]
                method = "POST"
                s, _, body = invitee.request(method, path, body={
                    "email": to, "handle": handle, "first_name": "Load",
                    "last_name": handle, "password": "load-password-1",
                    "csrf_token": invitee.token or ""})
                if s == 303:
                    with invites.lock:
                        invites.accepted += 1
                invitee.c and invitee.c.close()
                action = "accept (sign up)"
        except Exception as e:  # noqa: BLE001 - counted and reported
            with stats.lock:
                stats.errors[f"{action}: {type(e).__name__}"] += 1
            conn.c = None
            continue
        stats.record(action, method, path, s, time.perf_counter() - t, body)


def run_backend(backend, atrium, command):
    work = os.path.join(ROOT, "bench", "work", f"load-{backend}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if backend == "sqlite":
        url = f"sqlite://{work}/atrium.db"
    else:
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_DB}")
        u = urllib.parse.urlparse(PG_ADMIN)
        url = urllib.parse.urlunparse(u._replace(path="/" + PG_DB))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIUM_")}
    env.update({
        "ATRIUM_DATA_DIR": work,
        "ATRIUM_DATABASE_URL": url,
        "ATRIUM_BIND": f"127.0.0.1:{PORT}",
        "ATRIUM_MAIL_POLL_MS": "200",
        "RUST_LOG": os.environ.get("LOAD_RUST_LOG", "warn"),
    })
    log(f"{backend}: seeding")
    subprocess.run([atrium, "seed", *SEED_ARGS], env=env, check=True, capture_output=True)
    seed = {}
    with open(os.path.join(work, "seed.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            seed[k] = v
    logfile = os.path.join(work, "atrium.log")
    srv = subprocess.Popen([atrium, "serve"], env=env, stdout=open(logfile, "w"),
                           stderr=subprocess.STDOUT, start_new_session=True)
    stats = Stats()
    invites = Invites(os.path.join(work, "outbox"))
    try:
        wait_http()
        sessions = [login(seed["BIG_OWNER"], seed["PASSWORD"]) for _ in range(SESSIONS)]
        owner = Conn(sessions[0])
        members = set()
        # The first five pages of this seed's account, following each page's "Next" link
        # (keyset: ?after=handle). This run's list: the next backend finds its own.
        member_pages = []
        path = f"/account/{seed['BIG_ACCOUNT']}/members"
        for _ in range(5):
            status, _, html = owner.request("GET", path)
            if status != 200:
                raise RuntimeError(f"{backend}: GET {path} answered {status} before the run")
            member_pages.append(path)
            members.update(re.findall(r"/members/([0-9a-f-]{36})/role", html))
            nxt = re.search(r'<a href="([^"]*)"[^>]*rel="next"', html)
            if not nxt:
                break
            path = html_lib.unescape(nxt.group(1))
        members.discard(seed["BIG_OWNER_ID"])
        members = sorted(members)
        if not members:
            raise RuntimeError("no member rows found on the members page")
        log(f"{backend}: {CONNECTIONS} connections for {DURATION} s "
            f"({len(members)} members to change roles of, {len(member_pages)} members pages)")
        stop = time.time() + DURATION
        threads = [threading.Thread(target=worker,
                                    args=(i, stop, seed, sessions, members, member_pages,
                                          invites, stats))
                   for i in range(CONNECTIONS)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        while time.time() < stop:
            invites.scan()
            time.sleep(0.25)
        for t in threads:
            t.join(60)
        elapsed = time.perf_counter() - t0
        # Let the sender finish what is queued before looking at the outbox.
        time.sleep(1)
    finally:
        if srv.poll() is None:
            srv.send_signal(signal.SIGINT)
            try:
                srv.wait(15)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
    with open(logfile, errors="replace") as f:
        server_log = f.read()
    log_locked = [l for l in server_log.splitlines() if LOCKED.search(l)]
    log(f"{backend}: invariant check")
    inv = subprocess.run(
        ["nice", "-n", "10", "cargo", "test", "--quiet", "--test", "it", "--", "--ignored",
         "--exact", "load_run::invariants_hold_after_the_load_run", "--nocapture"],
        cwd=ROOT, env={**os.environ, "ATRIUM_LOAD_DATABASE_URL": url},
        capture_output=True, text=True)
    inv_ok = inv.returncode == 0
    inv_text = "clean" if inv_ok else "**violations**"
    inv_detail = (inv.stdout + inv.stderr).strip()
    for line in unexpected_lines(stats):
        log(f"{backend}: unexpected status: {line}")
    md, ok = report(backend, command, stats, elapsed, invites, log_locked, inv_ok, inv_text,
                    inv_detail)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"load-{backend}.md")
    with open(path, "w") as f:
        f.write(md)
    log(f"{backend}: wrote {path}")
    if backend == "postgres":
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    return md, ok


def unexpected_lines(stats, most=20):
    """The statuses EXPECTED does not allow, most frequent first: which path got which."""
    rows = stats.unexpected.most_common()
    lines = [f"{action}: {where} answered {status}, {count:,} times"
             for (action, where, status), count in rows[:most]]
    if len(rows) > most:
        lines.append(f"… and {len(rows) - most:,} more paths")
    return lines


def report(backend, command, stats, elapsed, invites, log_locked, inv_ok, inv_text,
           inv_detail):
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    # The results of this run (the other backend's) do not count as a change.
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                            "--", ".", ":!bench/results"],
                           capture_output=True, text=True).stdout.strip()
    times = sorted(stats.times)
    n = len(times)
    pct = lambda p: times[min(n - 1, int(n * p))] * 1e3 if n else float("nan")
    errors = sum(stats.errors.values())
    unexpected = sum(stats.unexpected.values())
    ok = (not stats.server_errors and not unexpected and not stats.locked and not log_locked
          and inv_ok and n > 0)
    out = [f"# Load run: {backend}", ""]
    out.append(f"Commit `{git}`{' (with local changes)' if dirty else ''}, "
               f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
               f"{os.cpu_count()} cores shared with the load driver and other work. "
               f"Command: `{command}` (this report: its {backend} run). "
               f"Release binary, {CONNECTIONS} keep-alive connections "
               f"(one Python thread each) for {DURATION} s on 127.0.0.1, a seeded tenant of 201 "
               f"members and 20 workspaces, the Owner logged in {SESSIONS} times.")
    out.append("")
    out.append("| | |")
    out.append("|---|--:|")
    out.append(f"| requests | {n:,} |")
    out.append(f"| requests/s | {n / elapsed:,.0f} |")
    out.append(f"| p50 | {pct(0.50):.1f} ms |")
    out.append(f"| p99 | {pct(0.99):.1f} ms |")
    out.append(f"| 5xx responses | {len(stats.server_errors)} |")
    out.append(f"| other unexpected statuses | {unexpected} |")
    out.append(f"| “database is locked” in a response | {len(stats.locked)} |")
    out.append(f"| “database is locked” in the server log | {len(log_locked)} |")
    out.append(f"| client errors (connection, timeout) | {errors} |")
    out.append(f"| invitations accepted (sign-ups from the e-mailed link) | {invites.accepted} |")
    out.append(f"| invariant check afterwards | {inv_text} |")
    out.append("")
    out.append("Responses by status: " + ", ".join(
        f"{s}: {c:,}" for s, c in sorted(stats.by_status.items())) + ".")
    out.append("")
    out.append("| action | responses by status |")
    out.append("|---|---|")
    for action in sorted(stats.by_action):
        out.append(f"| {action} | " + ", ".join(
            f"{s}: {c:,}" for s, c in sorted(stats.by_action[action].items())) + " |")
    out.append("")
    out.append("Expected (any other status fails the run): " + "; ".join(
        f"{action} {' or '.join(str(s) for s in sorted(ok_statuses))}"
        for action, ok_statuses in EXPECTED.items()) + ". A role change is refused with 422 "
        "when it would leave no Owner, never here: the Owner is not changed.")
    if stats.errors:
        out.append("")
        out.append("Client errors: " + ", ".join(f"{k}: {v}" for k, v in stats.errors.items()))
    if stats.unexpected:
        out.append("")
        out.append("Unexpected statuses, most frequent first:")
        out.extend(f"- {line}" for line in unexpected_lines(stats))
    for title, rows in [("5xx", stats.server_errors), ("locked (responses)", stats.locked),
                        ("locked (server log)", log_locked)]:
        if rows:
            out.append("")
            out.append(f"{title}, first 10:")
            out.extend(f"- `{r}`" for r in rows[:10])
    if not inv_ok:
        out.append("")
        out.append("```")
        out.append(inv_detail[-3000:])
        out.append("```")
    out.append("")
    out.append(f"Result: {'**pass**' if ok else '**FAIL**'}.")
    out.append("")
    return "\n".join(out), ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--atrium", required=True)
    ap.add_argument("backends", nargs="*")
    a = ap.parse_args()
    command = command_line()
    log(f"command: {command}")
    all_ok = True
    for b in a.backends or ["sqlite", "postgres"]:
        if b not in ("sqlite", "postgres"):
            sys.exit(f"load: unknown backend {b}")
        if b == "postgres":
            try:
                pg_admin("SELECT 1")
            except (subprocess.CalledProcessError, FileNotFoundError):
                log(f"PostgreSQL at {redact(PG_ADMIN)} does not answer: skipping it")
                continue
        md, ok = run_backend(b, a.atrium, command)
        print(md)
        all_ok &= ok
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
