#!/usr/bin/env python3
"""Atrium's benchmark driver (started by bench/run, which builds and installs wrk).

For each backend: seed a fresh database, start Atrium and the baseline server on
127.0.0.1, log in through the real form (session cookie + CSRF token), then for each
scenario run wrk (a warm-up in the first round, then a timed run) and read the servers' CPU time from /proc
before and after it (for PostgreSQL, also the backends serving the bench database).
Writes bench/results/<backend>.md.
"""

import argparse
import datetime
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
ATRIUM_PORT = int(os.environ.get("BENCH_ATRIUM_PORT", "18000"))
BASELINE_PORT = int(os.environ.get("BENCH_BASELINE_PORT", "18001"))
DURATION = int(os.environ.get("BENCH_DURATION", "2"))
# Warm-up before each scenario of the first round: this many requests on each of 16
# connections (enough for every pooled database connection to prepare the scenario's
# statements), or, with BENCH_WARMUP=N, N seconds of wrk.
WARMUP = int(os.environ.get("BENCH_WARMUP", "0"))
WARMUP_REQUESTS = int(os.environ.get("BENCH_WARMUP_REQUESTS", "25"))
THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
PG_ADMIN = os.environ.get(
    "ATRIUM_BENCH_POSTGRES_URL",
    os.environ.get("ATRIUM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
)
PG_DB = "atrium_bench"
SEED_ARGS = os.environ.get("BENCH_SEED_ARGS", "").split()
# Rounds: connections per round. The first and the last are alike, to see drift and growth.
ROUNDS = [16, 64, 16]
# The budgets that compare two scenarios (A within x of B) are also measured in pairs after
# the rounds: B and A back to back, 1 s each at 16 connections, this many times (the order
# alternating), and judged on the median of the pairs' ratios. On a shared 2-core machine
# the CPU per request of one scenario moved by up to 30% between rounds a minute apart
# (the same code's workspaces last/first ratio read 0.99× in one run and 1.14× in the
# next), and a ratio of two runs minutes apart carries both swings; a pair's two runs share
# their conditions.
PAIR_ROUNDS = int(os.environ.get("BENCH_PAIR_ROUNDS", "8"))
PAIRED = [
    ("members_part", "members"),
    ("workspaces_last", "workspaces"),
    ("service_accounts_last", "service_accounts"),
    ("members", "base_page"),
]


def duration_of(round_index):
    """Seconds of a timed run: DURATION in the first round, half of it in the later ones
    (thousands of requests each; the 64-connection round only gives p99 under load, the
    last one drift and growth), which keeps the whole run under 10 minutes."""
    return DURATION if round_index == 0 else max(1, DURATION // 2)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------- processes and /proc ----------


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the command: state is fields[0]; utime and stime are stat fields 14 and 15.
        return int(fields[11]) + int(fields[12])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def pg_backend_pids():
    out = subprocess.run(
        ["psql", PG_ADMIN, "-Atc",
         f"SELECT pid FROM pg_stat_activity WHERE datname = '{PG_DB}'"],
        capture_output=True, text=True, check=True,
    ).stdout
    return [int(p) for p in out.split()]


class Meter:
    """CPU ticks of a server process and, for PostgreSQL, of its database backends."""

    def __init__(self, pid, postgres):
        self.pid = pid
        self.postgres = postgres

    def sample(self):
        ticks = {("srv", self.pid): cpu_ticks(self.pid)}
        if self.postgres:
            for p in pg_backend_pids():
                ticks[("pg", p)] = cpu_ticks(p)
        return ticks

    @staticmethod
    def delta(before, after):
        """Seconds of CPU between two samples: (server, database)."""
        srv = db = 0
        for k, v in after.items():
            d = v - before.get(k, 0)
            if k[0] == "srv":
                srv += d
            else:
                db += d
        return srv / CLK_TCK, db / CLK_TCK


def wait_http(port, path="/hello", timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


# ---------- HTTP: log-in like a browser ----------


def request(port, method, path, headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheaders(), data.decode("utf-8", "replace")


def cookie_from(headers, name="atrium_session"):
    for k, v in headers:
        if k.lower() == "set-cookie" and v.startswith(name + "="):
            return v.split(";", 1)[0].split("=", 1)[1]
    return None


def csrf_from(html):
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return m.group(1) if m else None


def login(login_name, password):
    """Logs in through the real form; returns (session cookie value, seconds of the POST)."""
    status, headers, html = request(ATRIUM_PORT, "GET", "/auth/login")
    cookie, token = cookie_from(headers), csrf_from(html)
    if status != 200 or not cookie or not token:
        raise RuntimeError(f"log-in page: {status}, cookie {bool(cookie)}, token {bool(token)}")
    body = urllib.parse.urlencode(
        {"login": login_name, "password": password, "csrf_token": token})
    t = time.perf_counter()
    status, headers, _ = request(ATRIUM_PORT, "POST", "/auth/login", {
        "Cookie": f"atrium_session={cookie}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"http://127.0.0.1:{ATRIUM_PORT}",
    }, body)
    took = time.perf_counter() - t
    new = cookie_from(headers)
    if status != 303 or not new:
        raise RuntimeError(f"log-in of {login_name}: status {status}")
    return new, took


# ---------- wrk ----------

UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def seconds(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNIT[m.group(2)] if m else float("nan")


def warmup_text():
    return (f"{WARMUP} s" if WARMUP
            else f"{WARMUP_REQUESTS} requests on each of 16 connections")


def warm(port, path, headers, conns=16):
    """WARMUP_REQUESTS requests on each of `conns` keep-alive connections, side by side."""
    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(WARMUP_REQUESTS):
            c.request("GET", path, headers=headers)
            c.getresponse().read()
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def wrk(url, conns, duration, headers):
    cmd = ["wrk", f"-t{min(THREADS, conns)}", f"-c{conns}", f"-d{duration}s", "--latency",
           "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    res = {"raw": out}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    res["requests"] = int(m.group(1))
    res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res["p" + pct] = seconds(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["errors"] = m.group(1).strip() if m else ""
    return res


# ---------- scenarios ----------


class Scenario:
    def __init__(self, key, label, port, path, headers=None, status=200, kind="page"):
        self.key, self.label, self.port, self.path = key, label, port, path
        self.headers = headers or {}
        self.status = status
        self.kind = kind  # page | api | baseline


def scenarios(seed, sessions, keys):
    big, small, member = sessions["big"], sessions["small"], sessions["member"]
    teamed, teamless = sessions["teamed"], sessions["teamless"]
    ck = lambda s: {"Cookie": f"atrium_session={s}"}
    hx = lambda s: {**ck(s), "HX-Request": "true"}
    B, S = seed["BIG_ACCOUNT"], seed["SMALL_ACCOUNT"]
    BW, SW = seed["BIG_WORKSPACE"], seed["SMALL_WORKSPACE"]
    A = ATRIUM_PORT
    return [
        Scenario("base_page", "baseline: 50 rows + template", BASELINE_PORT, "/page",
                 kind="baseline"),
        Scenario("base_hello", "baseline: plain-text hello", BASELINE_PORT, "/hello",
                 kind="baseline"),
        Scenario("members", "members, page 1 (10,001 members)", A,
                 f"/account/{B}/members", ck(big)),
        Scenario("members_q", "members, filtered “ada” (3 characters: any part, 500 of 10,001)", A,
                 f"/account/{B}/members?q=ada", ck(big)),
        Scenario("members_last", "members, last page (after=yukihiro-turing, 10,001)", A,
                 f"/account/{B}/members?after=yukihiro-turing", ck(big)),
        Scenario("members_small", "members, page 1 (101 members)", A,
                 f"/account/{S}/members", ck(small)),
        Scenario("switcher", "switcher fragment (1,000 workspaces)", A, "/switcher", hx(big)),
        Scenario("switcher_small", "switcher fragment (10 workspaces)", A, "/switcher",
                 hx(small)),
        Scenario("panel", "workspace members panel (5,001 accesses)", A,
                 f"/account/{B}/workspace/{BW}/settings/members", ck(big)),
        Scenario("panel_small", "workspace members panel (101 accesses)", A,
                 f"/account/{S}/workspace/{SW}/settings/members", ck(small)),
        Scenario("dashboard", "dashboard (large account)", A,
                 f"/account/{B}/workspace/{BW}/dashboard", ck(big)),
        Scenario("dashboard_small", "dashboard (small account)", A,
                 f"/account/{S}/workspace/{SW}/dashboard", ck(small)),
        Scenario("api", "GET /api/me/workspaces, service-account key (50)", A,
                 "/api/me/workspaces", {"Authorization": f"Bearer {keys['big']}"}, kind="api"),
        Scenario("api_small", "GET /api/me/workspaces, service-account key (10)", A,
                 "/api/me/workspaces", {"Authorization": f"Bearer {keys['small']}"},
                 kind="api"),
        # Issue #25: a Member in 50 teams (each with Viewer on one of 50 workspaces) against
        # a Member with own Viewer roles on the same 50 workspaces; Owner of the first by an
        # own role, whose members panel both open.
        Scenario("switcher_teamed", "switcher fragment, Member in 50 teams (50 workspaces)", A,
                 "/switcher", hx(teamed)),
        Scenario("switcher_teamless", "switcher fragment, Member in no team (50 workspaces)", A,
                 "/switcher", hx(teamless)),
        Scenario("panel_teamed", "workspace members panel, opened by a Member in 50 teams", A,
                 f"/account/{B}/workspace/{BW}/settings/members", ck(teamed)),
        Scenario("panel_teamless", "workspace members panel, opened by a Member in no team", A,
                 f"/account/{B}/workspace/{BW}/settings/members", ck(teamless)),
        Scenario("denied", "permission denied (Member opens a members panel: 404)", A,
                 f"/account/{B}/workspace/{BW}/settings/members", ck(member), status=404),
        # Issue #24, points 5 and 6: search by any part of a name (trigram index), and the
        # workspaces and service-accounts lists paged by keyset.
        Scenario("members_part", "members, search by part of a name “ovela” (500 of 10,001)", A,
                 f"/account/{B}/members?q=ovela", ck(big)),
        Scenario("workspaces", "workspaces list, page 1 (1,000 workspaces)", A,
                 f"/account/{B}/workspaces", ck(big)),
        Scenario("workspaces_last", "workspaces list, last page (after=pipeline-0949)", A,
                 f"/account/{B}/workspaces?after=pipeline-0949", ck(big)),
        Scenario("service_accounts", "service-accounts list, page 1 (500)", A,
                 f"/account/{B}/service-accounts", ck(big)),
        Scenario("service_accounts_last", "service-accounts list, last page (after=worker 0449)",
                 A, f"/account/{B}/service-accounts?after=worker%200449", ck(big)),
    ]


def run_login(meter, seed, concurrency, duration):
    """Log-ins through the form, `concurrency` at a time: each a GET of the form, then the POST."""
    stop = time.time() + duration
    times, errors, lock = [], [0], threading.Lock()

    def worker():
        while time.time() < stop:
            try:
                _, took = login(seed["BIG_MEMBER"], seed["PASSWORD"])
                with lock:
                    times.append(took)
            except Exception:  # noqa: BLE001 - counted and reported
                with lock:
                    errors[0] += 1

    before = meter.sample()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    srv, db = Meter.delta(before, meter.sample())
    times.sort()
    n = len(times)
    return {
        "requests": n,
        "rps": n / elapsed,
        "p50": times[n // 2] if n else float("nan"),
        "p99": times[min(n - 1, int(n * 0.99))] if n else float("nan"),
        "cpu": (srv + db) / n if n else float("nan"),
        "db_cpu": db / n if n else float("nan"),
        "errors": errors[0],
        "concurrency": concurrency,
    }


# ---------- one backend ----------


def start(cmd, env, logfile):
    f = open(logfile, "w")
    return subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pg_admin(sql):
    subprocess.run(["psql", PG_ADMIN, "-qAtc", sql], check=True, capture_output=True)


def backend_env(backend):
    """The work folder and environment of one backend's servers and seed."""
    work = os.path.join(ROOT, "bench", "work", backend)
    if backend == "sqlite":
        url = f"sqlite://{work}/atrium.db"
    else:
        u = urllib.parse.urlparse(PG_ADMIN)
        url = urllib.parse.urlunparse(u._replace(path="/" + PG_DB))
    env = dict(os.environ)
    env.update({
        "ATRIUM_DATA_DIR": work,
        "ATRIUM_DATABASE_URL": url,
        "ATRIUM_BIND": f"127.0.0.1:{ATRIUM_PORT}",
        "BASELINE_BIND": f"127.0.0.1:{BASELINE_PORT}",
        "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "warn"),
    })
    return work, env


def start_seed(backend, atrium):
    """Starts seeding a fresh database for `backend`; returns (process, start time)."""
    work, env = backend_env(backend)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if backend == "postgres":
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {PG_DB}")
    log(f"{backend}: seeding")
    log_file = open(os.path.join(work, "seed.log"), "w")
    p = subprocess.Popen([atrium, "seed", *SEED_ARGS], env=env, stdout=log_file,
                         stderr=subprocess.STDOUT)
    return p, time.perf_counter()


def finish_seed(backend, seeding):
    """Waits for a seed started by `start_seed`; returns its seconds."""
    p, t = seeding
    if p.wait() != 0:
        work, _ = backend_env(backend)
        with open(os.path.join(work, "seed.log")) as f:
            sys.stderr.write(f.read())
        raise RuntimeError(f"{backend}: atrium seed failed ({p.returncode})")
    secs = time.perf_counter() - t
    log(f"{backend}: seeded in {secs:.0f} s")
    return secs


def run_pairs(scs, meters):
    """The PAIRED comparisons, PAIR_ROUNDS pairs each: {(a, b): [cpu(a) / cpu(b), ...]}."""
    by_key = {s.key: s for s in scs}
    out = {}
    for a, b in PAIRED:
        ratios = []
        for i in range(PAIR_ROUNDS):
            cpu = {}
            for key in ((b, a) if i % 2 == 0 else (a, b)):
                s = by_key[key]
                before = meters[s.port].sample()
                r = wrk(f"http://127.0.0.1:{s.port}{s.path}", 16, 1, s.headers)
                if r["non2xx"] and s.status == 200 or r["errors"]:
                    raise RuntimeError(f"pair {a}/{b}: {key}: {r['non2xx']} non-2xx, "
                                       f"socket errors: {r['errors'] or 'none'}")
                cpu_srv, cpu_db = Meter.delta(before, meters[s.port].sample())
                cpu[key] = (cpu_srv + cpu_db) / max(r["requests"], 1)
            ratios.append(cpu[a] / cpu[b])
        out[(a, b)] = ratios
        log(f"pairs {a} / {b}: median {statistics.median(ratios):.2f}× "
            f"({min(ratios):.2f}–{max(ratios):.2f})")
    return out


def run_backend(backend, atrium, baseline, seed_secs):
    work, env = backend_env(backend)
    seed = {}
    with open(os.path.join(work, "seed.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            seed[k] = v
    keys = {}
    for tag in ("big", "small"):
        with open(os.path.join(work, f"bench-{tag}.key")) as f:
            keys[tag] = f.read().strip()
    srv = base = None
    try:
        srv = start([atrium, "serve"], env, os.path.join(work, "atrium.log"))
        base = start([baseline], env, os.path.join(work, "baseline.log"))
        wait_http(ATRIUM_PORT, "/healthz")
        wait_http(BASELINE_PORT, "/hello")
        log(f"{backend}: logging in")
        sessions = {
            "big": login(seed["BIG_OWNER"], seed["PASSWORD"])[0],
            "small": login(seed["SMALL_OWNER"], seed["PASSWORD"])[0],
            "member": login(seed["BIG_MEMBER"], seed["PASSWORD"])[0],
            "teamed": login(seed["BIG_TEAMED"], seed["PASSWORD"])[0],
            "teamless": login(seed["BIG_TEAMLESS"], seed["PASSWORD"])[0],
        }
        meters = {
            ATRIUM_PORT: Meter(srv.pid, backend == "postgres"),
            BASELINE_PORT: Meter(base.pid, backend == "postgres"),
        }
        scs = scenarios(seed, sessions, keys)
        for s in scs:
            status, _, body = request(s.port, "GET", s.path, s.headers)
            if status != s.status:
                raise RuntimeError(f"{s.key}: expected {s.status}, got {status}: {body[:300]}")
            s.bytes = len(body.encode())
        results = {}  # (round index, key) -> result
        rss = []
        for ri, conns in enumerate(ROUNDS):
            for s in scs:
                url = f"http://127.0.0.1:{s.port}{s.path}"
                if ri == 0:
                    # Later rounds find the server warm: its pooled connections have
                    # prepared the scenario's statements and the pages are in memory.
                    if WARMUP:
                        wrk(url, conns, WARMUP, s.headers)
                    else:
                        warm(s.port, s.path, s.headers)
                before = meters[s.port].sample()
                r = wrk(url, conns, duration_of(ri), s.headers)
                cpu_srv, cpu_db = Meter.delta(before, meters[s.port].sample())
                n = max(r["requests"], 1)
                r["cpu"] = (cpu_srv + cpu_db) / n
                r["db_cpu"] = cpu_db / n
                r["conns"] = conns
                results[(ri, s.key)] = r
                log(f"{backend} c={conns} {s.key}: {r['rps']:.0f} req/s, "
                    f"{r['cpu'] * 1e6:.0f} µs CPU/req, p99 {r['p99'] * 1e3:.1f} ms"
                    + (f", {r['non2xx']} non-2xx" if r["non2xx"] else ""))
            rss.append(status_kib(srv.pid, "VmRSS"))
        paired = run_pairs(scs, meters)
        peak_pages = status_kib(srv.pid, "VmHWM")
        log(f"{backend}: peak RSS after the page rounds {peak_pages / 1024:.1f} MiB; log-in")
        login_res = run_login(meters[ATRIUM_PORT], seed, 4, DURATION)
        peak = status_kib(srv.pid, "VmHWM")
        base_peak = status_kib(base.pid, "VmHWM")
    finally:
        stop(srv)
        stop(base)
    md = report(backend, scs, results, rss, (peak_pages, peak), base_peak, login_res, seed_secs,
                paired)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"{backend}.md")
    with open(path, "w") as f:
        f.write(md)
    log(f"{backend}: wrote {path}")
    if backend == "postgres":
        pg_admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
    return md


# ---------- the report ----------


def mean16(results, key, field):
    vals = [results[(ri, key)][field] for ri, c in enumerate(ROUNDS) if c == 16]
    return statistics.mean(vals)


def report(backend, scs, results, rss, peaks, base_peak, login_res, seed_secs, paired):
    peak_pages, peak = peaks
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    base_cpu = mean16(results, "base_page", "cpu")
    base_rps = mean16(results, "base_page", "rps")
    us = lambda s: f"{s * 1e6:,.0f}"
    ms = lambda s: f"{s * 1e3:.1f}"
    out = [f"# Benchmarks: {backend}", ""]
    out.append(f"Commit `{git}`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
               f"{os.cpu_count()} cores ({cpu_model}), shared with other work. "
               f"wrk, {THREADS} threads, {duration_of(0)} s per scenario in the first round, {duration_of(1)} s in the later ones ({warmup_text()} of warm-up before each scenario in the first round), "
               f"rounds at {', '.join(map(str, ROUNDS))} connections. "
               f"Seed: {seed_secs:.0f} s (the backends seeded side by side).")
    out.append("")
    out.append("CPU/req = user + system time of the server process"
               + (" and of the PostgreSQL backends serving it" if backend == "postgres" else "")
               + ", read from /proc before and after the run, divided by the requests served. "
               "At 16 connections the figures are the mean of the first and last rounds; "
               "ratios are to the baseline page.")
    out.append("")
    out.append("| scenario | body KiB | CPU/req µs (16) | × base CPU | req/s (16) | × base req/s | p50 ms (16) | p99 ms (16) | p99 ms (64) | CPU/req µs (64) |"
               + (" of it DB µs (16) |" if backend == "postgres" else ""))
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if backend == "postgres" else ""))
    for s in scs:
        cpu, rps = mean16(results, s.key, "cpu"), mean16(results, s.key, "rps")
        r64 = results[(ROUNDS.index(64), s.key)]
        row = (f"| {s.label} | {s.bytes / 1024:.1f} | {us(cpu)} | {cpu / base_cpu:.2f} | {rps:,.0f} | {rps / base_rps:.2f} "
               f"| {ms(mean16(results, s.key, 'p50'))} | {ms(mean16(results, s.key, 'p99'))} "
               f"| {ms(r64['p99'])} | {us(r64['cpu'])} |")
        if backend == "postgres":
            row += f" {us(mean16(results, s.key, 'db_cpu'))} |"
        out.append(row)
    bad = [(ri, k, r) for (ri, k), r in results.items() if r["non2xx"] and k != "denied" or r["errors"]]
    out.append("")
    for ri, k, r in bad:
        out.append(f"- round {ri + 1} `{k}`: {r['non2xx']} non-2xx, socket errors: {r['errors'] or 'none'}")
    out.append(f"Log-in (form GET + POST, {login_res['concurrency']} at a time, the POST timed; "
               f"argon2id m=19 MiB t=2): {us(login_res['cpu'])} µs CPU per log-in, "
               f"{login_res['rps']:.1f} log-ins/s, POST p50 {ms(login_res['p50'])} ms, "
               f"p99 {ms(login_res['p99'])} ms, {login_res['errors']} errors.")
    out.append("")
    out.append(f"Memory: Atrium peak RSS (VmHWM) {peak / 1024:.1f} MiB "
               f"({peak_pages / 1024:.1f} MiB before the log-in run); RSS after each round "
               + ", ".join(f"{x / 1024:.1f}" for x in rss)
               + f" MiB. Baseline peak RSS {base_peak / 1024:.1f} MiB.")
    out.append("")
    out.append(f"Paired ratios of CPU/req (after the rounds: {PAIR_ROUNDS} pairs of 1 s runs at "
               "16 connections, the two scenarios back to back, the order alternating):")
    out.append("")
    out.append("| A / B | median | range | pairs |")
    out.append("|---|--:|--:|---|")
    for (a, b), ratios in paired.items():
        out.append(f"| {a} / {b} | {statistics.median(ratios):.2f}× | "
                   f"{min(ratios):.2f}–{max(ratios):.2f}× | "
                   + " ".join(f"{x:.2f}" for x in ratios) + " |")
    out.append("")
    # Budgets.
    out.append("## Budgets")
    out.append("")
    out.append("| budget | measured | holds |")
    out.append("|---|---|---|")

    def budget(name, value, ok):
        out.append(f"| {name} | {value} | {'yes' if ok else '**no**'} |")

    for s in scs:
        if s.kind == "baseline" or s.key == "denied":
            continue
        lim_cpu, lim_rps = (1.25, 0.8) if s.kind == "api" else (1.6, 0.6)
        c = mean16(results, s.key, "cpu") / base_cpu
        r = mean16(results, s.key, "rps") / base_rps
        budget(f"{s.label}: CPU ≤ {lim_cpu}× and req/s ≥ {lim_rps}× baseline",
               f"{c:.2f}×, {r:.2f}×", c <= lim_cpu and r >= lim_rps)
    auth = mean16(results, "denied", "cpu") - mean16(results, "base_hello", "cpu")
    budget("authentication + permission ≤ 0.5× baseline page CPU "
           "(permission-denied page − baseline hello, an upper bound)",
           f"{us(auth)} µs = {auth / base_cpu:.2f}×", auth <= 0.5 * base_cpu)
    worst = max((results[(ROUNDS.index(64), s.key)]["p99"], s.label)
                for s in scs if s.kind != "baseline")
    budget("p99 < 50 ms at 64 connections, every page", f"worst {ms(worst[0])} ms ({worst[1]})",
           worst[0] < 0.050)
    for a, b, lim, name in [
        ("members", "members_small", 1.10, "members page, 10,001 vs 101 members: within 10%"),
        ("members_last", "members", 1.10, "members last page vs page 1: within 10%"),
        ("switcher", "switcher_small", 1.5, "switcher, 1,000 vs 10 workspaces: within 1.5×"),
        ("panel", "panel_small", 1.10, "members panel, 5,001 vs 101 accesses: within 10%"),
        ("dashboard", "dashboard_small", 1.10, "dashboard, large vs small account: within 10%"),
        ("switcher_teamed", "switcher_teamless", 1.2,
         "switcher, Member in 50 teams vs in none: within 1.2× (issue #25)"),
        ("panel_teamed", "panel_teamless", 1.2,
         "members panel, opened by a Member in 50 teams vs in none: within 1.2× (issue #25)"),
    ]:
        x = mean16(results, a, "cpu") / mean16(results, b, "cpu")
        budget(name + " (CPU/req)", f"{x:.2f}×", x <= lim)
    # Issue #24, point 10: the members page of 50 rows is light (one dialog per page, no
    # per-row confirmation markup or htmx attributes).
    m = next(s for s in scs if s.key == "members")
    mc = mean16(results, "members", "cpu") / base_cpu
    mp = statistics.median(paired[("members", "base_page")])
    budget("members page 50 rows: body ≤ 40 KiB and CPU ≤ 2× baseline (issue #24; paired "
           "median, the rounds' ratio after it)",
           f"{m.bytes / 1024:.1f} KiB, {mp:.2f}× (rounds {mc:.2f}×)",
           m.bytes <= 40 * 1024 and mp <= 2.0)
    # ---------- lists at scale and search by part of a name (issue #24, points 5 and 6) ----------
    for a, b, lim, name in [
        ("members_part", "members", 1.2,
         "members search by part of a name vs page 1 (10,001 members): within 1.2× (#24.6)"),
        ("workspaces_last", "workspaces", 1.1,
         "workspaces list, last page vs page 1 (1,000): within 1.1× (#24.5)"),
        ("service_accounts_last", "service_accounts", 1.1,
         "service-accounts list, last page vs page 1 (500): within 1.1× (#24.5)"),
    ]:
        x = mean16(results, a, "cpu") / mean16(results, b, "cpu")
        med = statistics.median(paired[(a, b)])
        budget(name + " (CPU/req; paired median, the rounds' ratio after it)",
               f"{med:.2f}× (rounds {x:.2f}×)", med <= lim)
    budget("peak RSS < 150 MiB", f"{peak / 1024:.1f} MiB", peak < 150 * 1024)
    grew = rss[-1] > max(rss[:-1]) * 1.05
    budget("no RSS growth between rounds (last round ≤ 1.05× the largest before)",
           " → ".join(f"{x / 1024:.1f}" for x in rss) + " MiB", not grew)
    out.append("")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--atrium", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("backends", nargs="*")
    a = ap.parse_args()
    backends = []
    for b in a.backends or ["sqlite", "postgres"]:
        if b not in ("sqlite", "postgres"):
            sys.exit(f"bench: unknown backend {b}")
        if b == "postgres":
            try:
                pg_admin("SELECT 1")
            except (subprocess.CalledProcessError, FileNotFoundError):
                log(f"PostgreSQL at {PG_ADMIN} does not answer: skipping it")
                continue
        backends.append(b)
    # The backends are seeded side by side (a seed is mostly one core's work), before any
    # measurement, so that no seed runs while a server is measured.
    seeding = {b: start_seed(b, a.atrium) for b in backends}
    seed_secs = {b: finish_seed(b, seeding[b]) for b in backends}
    for b in backends:
        print(run_backend(b, a.atrium, a.baseline, seed_secs[b]))


if __name__ == "__main__":
    main()
