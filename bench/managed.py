#!/usr/bin/env python3
"""The managed Prefect servers benchmark (issue #22; started by bench/managed, which builds
and makes the prefect virtualenv).

For each backend, Atrium (release binary, a fresh data directory and database,
ATRIUM_PREFECT_BIN set) and, through the real pages, a user signed up, an organization and
an API key. Then:

1. Idle workspaces cost nothing: MANAGED_WORKSPACES (50) workspaces created through the
   form, the workspace list and a few dashboards viewed; no `prefect` process with its
   PREFECT_HOME under this run's data directory, no server folder, no managed server row,
   (PostgreSQL) no server database; Atrium's VmRSS before and after.
2. Start-up time: for MANAGED_STARTS (5) workspaces one after the other, the first
   `POST …/flows/filter` with `{}` (it waits for the server to start) and a second one
   (warm); the CPU the server's process group spent until it answered.
3. Resident memory of a managed server: VmRSS (and PSS) summed over the processes of each
   server's process group (the processes whose environ has PREFECT_HOME=<data
   dir>/prefect/<workspace id>, their process groups and their children), idle and after a
   burst of MANAGED_BURST (100) calls; on PostgreSQL, the backends connected to the
   servers' databases.
4. The at-most-N limit: Atrium stopped (SIGTERM: every managed server must be gone) and
   started again with ATRIUM_MANAGED_MAX_RUNNING=3 on the same data; MANAGED_LIMIT_CALLS (5)
   workspaces not started before are called one after the other: after each call at most 3
   server groups run (also sampled every MANAGED_SAMPLE seconds during the calls), and
   they are the 3 called last (the least recently used were stopped).

Every answer's status is checked; any other fails the run and is listed. Atrium is stopped
with SIGTERM at the end, and any prefect process left with its PREFECT_HOME under the data
directory fails the run (and is killed). Writes bench/results/managed-<backend>.md; exits
non-zero when a check fails.
"""

import argparse
import datetime
import glob
import http.client
import json
import os
import re
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

import benchlib
from benchlib import Browser, free_port, redact, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKSPACES = int(os.environ.get("MANAGED_WORKSPACES", "50"))
STARTS = int(os.environ.get("MANAGED_STARTS", "5"))
BURST = int(os.environ.get("MANAGED_BURST", "100"))
MAX_RUNNING = int(os.environ.get("MANAGED_MAX_RUNNING", "3"))
LIMIT_CALLS = int(os.environ.get("MANAGED_LIMIT_CALLS", "5"))
SETTLE = float(os.environ.get("MANAGED_SETTLE", "5"))
SAMPLE = float(os.environ.get("MANAGED_SAMPLE", "0.25"))
# How long Atrium may take to stop (it stops its servers one after the other, each within
# 10 s: TERM, then KILL).
STOP_TIMEOUT = float(os.environ.get("MANAGED_STOP_TIMEOUT", "120"))
# The driver, Atrium and (inherited) the managed servers run at this nice level when allowed.
NICE = int(os.environ.get("MANAGED_NICE", "-10"))
PG_ADMIN = os.environ.get(
    "ATRIUM_BENCH_POSTGRES_URL",
    os.environ.get("ATRIUM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
)
PG_DB = "atrium_mbench"
# The managed servers' databases: <first 30 characters of Atrium's database name>_ws_<hex>.
PG_WS_LIKE = PG_DB[:30].replace("_", r"\_") + r"\_ws\_%"
FILTER_BODY = b"{}"


def log(msg):
    print(f"managed: {msg}", file=sys.stderr, flush=True)




def psql(sql, url=None, check=True):
    return benchlib.psql(url or PG_ADMIN, sql, check)


def pg_ws_databases():
    out = psql(f"SELECT datname FROM pg_database WHERE datname LIKE '{PG_WS_LIKE}' "
               f"ORDER BY datname")
    return [d for d in out.split() if d]


def drop_pg():
    for d in pg_ws_databases():
        psql(f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)')
    psql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


# ---------- /proc ----------


def read_stat(pid):
    """(ppid, pgid, comm, cpu seconds: user + system, plus the reaped children's)."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    f = raw.rsplit(")", 1)[1].split()
    cpu = sum(int(x) for x in f[11:15]) / CLK_TCK
    return int(f[1]), int(f[2]), comm, cpu


def prefect_home(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return None
    for item in env.split(b"\0"):
        if item.startswith(b"PREFECT_HOME="):
            return item[len(b"PREFECT_HOME="):].decode("utf-8", "replace")
    return None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def status_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def processes():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            ppid, pgid, comm, cpu = read_stat(pid)
        except (OSError, ValueError, IndexError):
            continue
        out[pid] = {"ppid": ppid, "pgid": pgid, "comm": comm, "cpu": cpu}
    return out


def managed_groups(data_dir, procs=None):
    """{workspace id: {pid: process}} of the managed servers whose PREFECT_HOME is under
    <data_dir>/prefect/: the processes with that environment, every process of their
    process groups, and their descendants."""
    prefix = os.path.join(data_dir, "prefect") + "/"
    procs = procs if procs is not None else processes()
    owner = {}  # pid -> workspace id
    for pid in procs:
        home = prefect_home(pid)
        if home and home.startswith(prefix):
            owner[pid] = home[len(prefix):].split("/")[0]
    groups = {}
    for pid, ws in owner.items():
        groups.setdefault(procs[pid]["pgid"], set()).add(ws)
    for pid, p in procs.items():
        if pid not in owner and p["pgid"] in groups and len(groups[p["pgid"]]) == 1:
            owner[pid] = next(iter(groups[p["pgid"]]))
    changed = True
    while changed:
        changed = False
        for pid, p in procs.items():
            if pid not in owner and p["ppid"] in owner:
                owner[pid] = owner[p["ppid"]]
                changed = True
    out = {}
    for pid, ws in owner.items():
        out.setdefault(ws, {})[pid] = procs[pid]
    return out


def group_memory(members):
    """(VmRSS KiB, PSS KiB, [(name, VmRSS KiB)] by process) of a server's processes."""
    rss = pss = 0
    parts = []
    for pid, p in sorted(members.items()):
        r = status_kib(pid) or 0
        rss += r
        pss += pss_kib(pid) or 0
        name = p["comm"]
        cl = cmdline(pid)
        if name == "bash":
            name = "bash (wrapper)"
        elif "server start" in cl:
            name = "prefect server start"
        elif "uvicorn" in cl:
            name = "uvicorn"
        parts.append((name, r))
    return rss, pss, parts


def group_cpu(members):
    return sum(p["cpu"] for p in members.values())


def other_prefect_processes(data_dir):
    """Processes of a prefect CLI / server on this machine that are not this run's."""
    prefix = os.path.join(data_dir, "prefect") + "/"
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        cl = cmdline(int(d))
        if "prefect" in cl and ("python" in cl or cl.startswith("/")):
            home = prefect_home(int(d)) or ""
            if not home.startswith(prefix):
                n += 1
    return n


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mib(kib):
    return kib / 1024


# ---------- processes this run started ----------


class Procs:
    def __init__(self):
        self.running = {}
        self.pids_file = os.environ.get("MANAGED_PIDS_FILE")

    def _write(self):
        if self.pids_file:
            with open(self.pids_file, "w") as f:
                for name, p in self.running.items():
                    f.write(f"{p.pid} {name}\n")

    def start(self, name, cmd, env, logfile):
        f = open(logfile, "a")
        p = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.running[name] = p
        self._write()
        return p

    def stop(self, name, timeout=STOP_TIMEOUT):
        """SIGTERM to the process (Atrium then stops its managed servers), KILL to its
        group when it takes longer than the timeout. Returns (seconds it took, how it ended)."""
        p = self.running.pop(name, None)
        self._write()
        if p is None:
            return 0.0, "not running"
        t0 = time.perf_counter()
        how = "SIGTERM"
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                how = f"SIGKILL after {timeout:g} s"
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        else:
            how = f"had exited ({p.returncode})"
        took = time.perf_counter() - t0
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return took, how

    def stop_all(self):
        for name in list(self.running):
            self.stop(name)


PROCS = Procs()


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# ---------- HTTP ----------


class Checker:
    """Every answer's status against the expected one; the others are listed."""

    def __init__(self):
        self.unexpected = []  # (phase, what, status, detail)
        self.counts = {}

    def check(self, phase, what, status, expected, detail=""):
        self.counts[status] = self.counts.get(status, 0) + 1
        if status not in expected:
            self.unexpected.append((phase, what, status, detail[:300]))
            log(f"UNEXPECTED {phase}: {what}: {status} (expected "
                f"{'/'.join(map(str, sorted(expected)))}) {detail[:200]}")
            return False
        return True


def call(port, method, path, headers=None, body=None, timeout=200):
    return benchlib.call(port, method, path, headers, body, timeout)


# ---------- one backend ----------


class Run:
    def __init__(self, backend, a, work):
        self.backend = backend
        self.a = a
        self.work = work
        self.data_dir = os.path.join(work, "atrium")
        self.alog = os.path.join(work, "atrium.log")
        self.checker = Checker()
        self.failures = []  # (check, what was seen)
        self.port = None
        self.proc = None
        self.account = None
        self.key = None
        self.workspaces = []  # (label, id)
        self.label = {}

    # Atrium

    def db_url(self):
        if self.backend == "sqlite":
            return f"sqlite://{self.data_dir}/atrium.db"
        u = urllib.parse.urlparse(PG_ADMIN)
        return urllib.parse.urlunparse(u._replace(path="/" + PG_DB))

    def start_atrium(self, extra=None):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ATRIUM_", "PREFECT_", "MANAGED_"))}
        env.update({
            "ATRIUM_DATA_DIR": self.data_dir,
            "ATRIUM_DATABASE_URL": self.db_url(),
            "ATRIUM_BIND": f"127.0.0.1:{self.port}",
            "ATRIUM_PREFECT_BIN": self.a.prefect,
            "RUST_LOG": os.environ.get("MANAGED_RUST_LOG", "info"),
        })
        env.update(extra or {})
        with open(self.alog, "a") as f:
            f.write(f"\n===== managed bench: start {' '.join(f'{k}={v}' for k, v in (extra or {}).items())}\n")
        self.proc = PROCS.start("atrium", [self.a.atrium, "serve"], env, self.alog)
        wait_for("Atrium", lambda: call(self.port, "GET", "/healthz", timeout=2)[0] == 200,
                 self.proc, self.alog, 120)
        return self.proc

    def stop_atrium(self):
        took, how = PROCS.stop("atrium")
        self.proc = None
        return took, how

    def rss(self):
        return status_kib(self.proc.pid) if self.proc else None

    def api(self, ws, conn=None, phase="", timeout=200):
        path = f"/api/accounts/{self.account}/workspaces/{ws}/flows/filter"
        hs = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json",
              "Accept": "application/json"}
        t0 = time.perf_counter()
        if conn is None:
            status, data = call(self.port, "POST", path, hs, FILTER_BODY, timeout)
        else:
            conn.request("POST", path, body=FILTER_BODY, headers=hs)
            r = conn.getresponse()
            status, data = r.status, r.read()
        took = time.perf_counter() - t0
        ok = self.checker.check(phase, f"POST …/workspaces/{self.label.get(ws, ws)}/flows/filter",
                                status, {200}, data.decode("utf-8", "replace"))
        if ok:
            try:
                if not isinstance(json.loads(data), list):
                    raise ValueError
            except ValueError:
                self.failures.append((f"{phase}: the answer is a JSON list of flows",
                                      data[:200].decode("utf-8", "replace")))
        return status, took

    def groups(self):
        return managed_groups(self.data_dir)

    def fail(self, check, seen):
        log(f"FAIL: {check}: {seen}")
        self.failures.append((check, seen))

    # the pages

    def setup(self):
        b = Browser(self.port)
        password = "mbench-" + secrets.token_hex(8)
        status, _, _ = b.request("GET", "/auth/signup")
        self.checker.check("setup", "GET /auth/signup", status, {200})
        status, hs, text = b.request("POST", "/auth/signup", {
            "email": "mbench@example.com", "handle": "mbench", "first_name": "Managed",
            "last_name": "Bench", "password": password})
        if not self.checker.check("setup", "POST /auth/signup", status, {303}, text):
            raise RuntimeError(f"sign-up: {status}: {text[:300]}")
        status, _, _ = b.request("GET", "/accounts/new")
        self.checker.check("setup", "GET /accounts/new", status, {200})
        status, hs, text = b.request("POST", "/accounts/new",
                                     {"name": "Managed Bench", "handle": "mbench-org"})
        if not self.checker.check("setup", "POST /accounts/new", status, {303}, text):
            raise RuntimeError(f"new organization: {status}: {text[:300]}")
        self.account = hs["location"].removeprefix("/account/").split("/")[0]
        status, _, _ = b.request("GET", "/profile/api-keys")
        self.checker.check("setup", "GET /profile/api-keys", status, {200})
        status, _, text = b.request("POST", "/profile/api-keys",
                                    {"name": "managed bench", "expiration": ""})
        m = re.search(r'<code id="new-key">([^<]+)</code>', text)
        if not self.checker.check("setup", "POST /profile/api-keys", status, {200}, text) or not m:
            raise RuntimeError(f"new API key: {status}: {text[:300]}")
        self.key = m.group(1).strip()
        return b

    def create_workspaces(self, b, n):
        status, _, _ = b.request("GET", f"/account/{self.account}/workspaces")
        self.checker.check("create", "GET the workspace list", status, {200})
        t0 = time.perf_counter()
        for i in range(1, n + 1):
            label = f"ws-{i:02d}"
            status, hs, text = b.request("POST", f"/account/{self.account}/workspaces",
                                         {"name": f"Managed {i:02d}", "handle": f"mws-{i:02d}",
                                          "description": ""})
            if not self.checker.check("create", f"POST new workspace {label}", status, {303},
                                      text):
                raise RuntimeError(f"new workspace: {status}: {text[:300]}")
            ws = hs["location"].split("/")[4]
            self.workspaces.append((label, ws))
            self.label[ws] = label
        return time.perf_counter() - t0


def run_backend(backend, a, command, root_work):
    work = os.path.join(root_work, backend)
    os.makedirs(os.path.join(work, "atrium"), exist_ok=True)
    postgres = backend == "postgres"
    r = Run(backend, a, work)
    started = time.perf_counter()
    res = {"load_start": loadavg(), "others_start": other_prefect_processes(r.data_dir)}
    try:
        if postgres:
            drop_pg()
            psql(f"CREATE DATABASE {PG_DB}")
            with open(os.path.join(root_work, "pg-used"), "w") as f:
                f.write(PG_DB)
        r.start_atrium()
        b = r.setup()
        log(f"{backend}: Atrium on port {r.port} (pid {r.proc.pid}); signed up, "
            f"organization and API key made")

        # ---- 1. idle workspaces ----
        time.sleep(1)
        res["rss_before"] = r.rss()
        res["create_s"] = r.create_workspaces(b, WORKSPACES)
        status, _, text = b.request("GET", f"/account/{r.account}/workspaces")
        r.checker.check("idle", "GET the workspace list", status, {200})
        res["not_started_shown"] = text.count("Not started")
        for label, ws in r.workspaces[:3]:
            status, _, _ = b.request("GET", f"/account/{r.account}/workspace/{ws}/dashboard")
            r.checker.check("idle", f"GET the dashboard of {label}", status, {200})
        time.sleep(SETTLE)  # the supervisor ticks every second: nothing may start by itself
        res["rss_after"] = r.rss()
        groups = r.groups()
        res["idle_procs"] = sum(len(m) for m in groups.values())
        prefect_dir = os.path.join(r.data_dir, "prefect")
        res["idle_dirs"] = len(os.listdir(prefect_dir)) if os.path.isdir(prefect_dir) else 0
        res["idle_dbs"] = len(pg_ws_databases()) if postgres else None
        res["idle_rows"] = managed_rows(r)
        log(f"{backend}: {WORKSPACES} workspaces in {res['create_s']:.1f} s; prefect processes "
            f"{res['idle_procs']}, server folders {res['idle_dirs']}, rows {res['idle_rows']}; "
            f"Atrium RSS {mib(res['rss_before']):.1f} → {mib(res['rss_after']):.1f} MiB")
        if res["idle_procs"]:
            r.fail("no prefect process for idle workspaces",
                   f"{res['idle_procs']} processes: {sorted(groups)}")
        if res["idle_dirs"]:
            r.fail("no server folder for idle workspaces", f"{res['idle_dirs']} folders")
        if res["idle_rows"]:
            r.fail("no managed server row for idle workspaces", f"{res['idle_rows']} rows")
        if res["idle_dbs"]:
            r.fail("no server database for idle workspaces", f"{res['idle_dbs']} databases")

        # ---- 2. start-up time ----
        starts = []
        for label, ws in r.workspaces[:STARTS]:
            load = loadavg()
            status, first = r.api(ws, phase="start (first call)")
            g = r.groups().get(ws, {})
            cpu = group_cpu(g)
            status2, second = r.api(ws, phase="start (second call)")
            pgids = sorted({p["pgid"] for p in g.values()})
            starts.append({"label": label, "ws": ws, "first": first, "second": second,
                           "cpu": cpu, "procs": len(g), "pgids": pgids, "load": load})
            log(f"{backend}: {label}: first call {first:.2f} s (server CPU {cpu:.1f} s, "
                f"{len(g)} processes in {len(pgids)} group(s)), second {second * 1e3:.1f} ms; "
                f"load {load}")
            if status == 200 and not g:
                r.fail(f"{label}: a server process group runs after the first call",
                       "none found")
            if len(pgids) > 1:
                r.fail(f"{label}: the server is one process group", f"groups {pgids}")
        res["starts"] = starts
        res["dbs_after_starts"] = len(pg_ws_databases()) if postgres else None

        # ---- 3. resident memory ----
        time.sleep(SETTLE)
        idle_mem = {}
        groups = r.groups()
        for s in starts:
            idle_mem[s["ws"]] = group_memory(groups.get(s["ws"], {}))
        res["pg_idle"] = pg_backends() if postgres else None
        res["atrium_rss_servers"] = r.rss()
        burst = {}
        for s in starts:
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=60)
            times = []
            for _ in range(BURST):
                _, took = r.api(s["ws"], conn=conn, phase="burst")
                times.append(took)
            conn.close()
            burst[s["ws"]] = times
        time.sleep(1)
        after_mem = {}
        groups = r.groups()
        for s in starts:
            after_mem[s["ws"]] = group_memory(groups.get(s["ws"], {}))
        res["pg_after"] = pg_backends() if postgres else None
        if postgres:
            res["pg_max_connections"] = psql("SHOW max_connections")
        res["atrium_rss_burst"] = r.rss()
        res["idle_mem"], res["after_mem"], res["burst"] = idle_mem, after_mem, burst
        for s in starts:
            i, f = idle_mem[s["ws"]], after_mem[s["ws"]]
            t = burst[s["ws"]]
            log(f"{backend}: {s['label']}: RSS idle {mib(i[0]):.0f} MiB (PSS {mib(i[1]):.0f}), "
                f"after {BURST} calls {mib(f[0]):.0f} MiB (PSS {mib(f[1]):.0f}); burst p50 "
                f"{statistics.median(t) * 1e3:.1f} ms")

        # ---- stop: every server must be gone ----
        n_before = len(r.groups())
        took, how = r.stop_atrium()
        time.sleep(0.5)
        left = r.groups()
        res["stop1"] = {"running": n_before, "took": took, "how": how,
                        "left": sum(len(m) for m in left.values())}
        log(f"{backend}: Atrium stopped ({how}) in {took:.1f} s with {n_before} servers "
            f"running; prefect processes left: {res['stop1']['left']}")
        if how != "SIGTERM":
            r.fail("Atrium stops on SIGTERM", how)
        if left:
            r.fail("no managed server outlives Atrium (first stop)",
                   f"{res['stop1']['left']} processes of {len(left)} servers")
            kill_groups(left)

        # ---- 4. at most N ----
        r.start_atrium({"ATRIUM_MANAGED_MAX_RUNNING": str(MAX_RUNNING)})
        log(f"{backend}: Atrium restarted with ATRIUM_MANAGED_MAX_RUNNING={MAX_RUNNING} "
            f"(port {r.port})")
        peak = {"max": 0, "samples": 0, "when": ""}
        stop_sampling = threading.Event()

        def sampler():
            while not stop_sampling.is_set():
                n = len(r.groups())
                peak["samples"] += 1
                if n > peak["max"]:
                    peak["max"] = n
                    peak["when"] = current["label"]
                stop_sampling.wait(SAMPLE)

        current = {"label": "before the first call"}
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        limit_rows = []
        called = []
        pool = [(label, ws, label) for label, ws in r.workspaces[STARTS:STARTS + LIMIT_CALLS]]
        if len(pool) < LIMIT_CALLS:
            raise RuntimeError(f"MANAGED_WORKSPACES must be at least {STARTS + LIMIT_CALLS}")
        # Last, a workspace whose server ran before Atrium's restart: started again on the
        # data it kept (no migrations), in place of the least recently used one.
        label0, ws0 = r.workspaces[0]
        pool.append((label0, ws0, f"{label0} again (its server ran before the restart)"))
        prev = set()
        try:
            for label, ws, shown in pool:
                current["label"] = f"during the call to {label}"
                load = loadavg()
                status, took = r.api(ws, phase="limit")
                called.append(ws)
                groups = r.groups()
                running = set(groups)
                cpu = group_cpu(groups.get(ws, {}))
                expected = set(called[-MAX_RUNNING:])
                row = {"label": shown, "took": took, "status": status, "cpu": cpu, "load": load,
                       "running": sorted(r.label.get(w, w) for w in running),
                       "stopped": sorted(r.label.get(w, w) for w in prev - running),
                       "ok": len(running) <= MAX_RUNNING and running == expected}
                limit_rows.append(row)
                log(f"{backend}: limit: {label} answered {status} in {took:.1f} s; running "
                    f"{row['running']}; stopped {row['stopped']}")
                if len(running) > MAX_RUNNING:
                    r.fail(f"at most {MAX_RUNNING} servers after the call to {label}",
                           f"{len(running)} running")
                if running != expected:
                    r.fail(f"after the call to {label} the {MAX_RUNNING} called last run",
                           f"running {row['running']}, expected "
                           f"{sorted(r.label.get(w, w) for w in expected)}")
                prev = running
                current["label"] = f"after the call to {label}"
        finally:
            stop_sampling.set()
            th.join()
        res["limit"] = limit_rows
        res["peak"] = peak
        if peak["max"] > MAX_RUNNING:
            r.fail(f"at most {MAX_RUNNING} server groups at any sample",
                   f"{peak['max']} {peak['when']}")
        with open(r.alog, errors="replace") as f:
            text = f.read()
        res["limit_log_stops"] = text.count("the most running servers were reached")
        res["limit_rows"] = managed_rows(r, by_state=True)

        # ---- the end: stop, nothing left ----
        n_before = len(r.groups())
        took, how = r.stop_atrium()
        time.sleep(0.5)
        left = r.groups()
        res["stop2"] = {"running": n_before, "took": took, "how": how,
                        "left": sum(len(m) for m in left.values())}
        log(f"{backend}: Atrium stopped ({how}) in {took:.1f} s with {n_before} servers "
            f"running; prefect processes left: {res['stop2']['left']}")
        if how != "SIGTERM":
            r.fail("Atrium stops on SIGTERM (at the end)", how)
        if left:
            r.fail("no managed server outlives Atrium (at the end)",
                   f"{res['stop2']['left']} processes of {len(left)} servers")
            kill_groups(left)
        if postgres:
            res["dbs_end"] = len(pg_ws_databases())
    except Exception as e:  # noqa: BLE001 - any error fails the run, reported
        log(f"{backend}: ERROR {type(e).__name__}: {e}")
        r.fail("the run completed", f"{type(e).__name__}: {str(e)[:1500]}")
    finally:
        PROCS.stop_all()
        left = r.groups()
        if left:
            r.fail("no managed server left after the run",
                   f"{sum(len(m) for m in left.values())} processes of {len(left)} servers")
            kill_groups(left)
        if postgres:
            try:
                res["dbs_dropped"] = len(pg_ws_databases())
                drop_pg()
            except RuntimeError as e:
                log(str(e))
    res["load_end"] = loadavg()
    res["others_end"] = other_prefect_processes(r.data_dir)
    res["seconds"] = time.perf_counter() - started
    md, ok = report(r, res, command)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", f"managed-{backend}.md")
    with open(out, "w") as f:
        f.write(md)
    log(f"{backend}: wrote {out}")
    return md, ok


def kill_groups(groups):
    for members in groups.values():
        for pgid in {p["pgid"] for p in members.values()}:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def managed_rows(r, by_state=False):
    """The managed_servers rows (by state when asked), read from Atrium's database."""
    if r.backend == "sqlite":
        import sqlite3
        db = os.path.join(r.data_dir, "atrium.db")
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            rows = c.execute("SELECT state, COUNT(*) FROM managed_servers GROUP BY state").fetchall()
        finally:
            c.close()
    else:
        u = urllib.parse.urlparse(PG_ADMIN)
        url = urllib.parse.urlunparse(u._replace(path="/" + PG_DB))
        out = psql("SELECT state, COUNT(*) FROM managed_servers GROUP BY state", url)
        rows = [tuple(line.split("|")) for line in out.splitlines() if line]
    if by_state:
        return {s: int(n) for s, n in rows}
    return sum(int(n) for _, n in rows)


def pg_backends():
    """{database: (backends, VmRSS KiB, PSS KiB)} of the servers' databases."""
    out = psql(f"SELECT datname, pid FROM pg_stat_activity WHERE datname LIKE '{PG_WS_LIKE}'")
    found = {}
    for line in out.splitlines():
        if "|" not in line:
            continue
        db, pid = line.split("|")
        pid = int(pid)
        n, rss, pss = found.get(db, (0, 0, 0))
        found[db] = (n + 1, rss + (status_kib(pid) or 0), pss + (pss_kib(pid) or 0))
    return found


# ---------- the report ----------


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def report(r, res, command):
    backend = r.backend
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no",
                            "--", "src", "Cargo.toml", "Cargo.lock", "migrations", "templates"],
                           capture_output=True, text=True).stdout.strip()
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    version = prefect_version(r.a.prefect)
    ok = not r.failures and not r.checker.unexpected
    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
    out = [f"# Managed Prefect servers: {name}", ""]
    out.append(
        f"Command: `{command}` (this report: its {backend} run). Commit `{git}`"
        f"{' (with local changes to src/templates)' if dirty else ''}, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores (`nproc`; {cpu_model}), shared with whatever else ran: load "
        f"average {res['load_start']} at the start, {res['load_end']} at the end; "
        f"{res['others_start']} (start) and {res['others_end']} (end) prefect processes of "
        f"other runs on the machine, not counted below. Atrium release build on {name}"
        f"{' (its own database `' + PG_DB + '`; each managed server a database of its own)' if backend == 'postgres' else ' (each managed server a SQLite file in its folder)'}, "
        f"managed servers: Prefect {version} (`prefect server start --no-ui`). The driver, "
        f"Atrium and the servers it starts ran at nice {NICE}. This backend's run took "
        f"{res['seconds'] / 60:.1f} min.")
    out.append("")
    found = ""
    if res.get("after_mem") and res.get("starts"):
        names = [n for n, _ in res["after_mem"][res["starts"][0]["ws"]][2]]
        found = (" Found here: " + ", ".join(names) + " (Prefect " + version + " serves from "
                 "the CLI process itself: no separate uvicorn process)."
                 if "uvicorn" not in names else " Found here: " + ", ".join(names) + ".")
    out.append("A server's processes: those whose environment has `PREFECT_HOME=<data dir>/"
               "prefect/<workspace id>`, every process of their process group and their "
               "children." + found + " RSS = the sum of their VmRSS (/proc/<pid>/status); PSS "
               "(/proc/<pid>/smaps_rollup) shares out the pages they share with other "
               "processes (e.g. the other servers' Python libraries).")
    out.append("")

    # 1
    out.append(f"## 1. Idle workspaces cost nothing")
    out.append("")
    if "rss_after" in res:
        out.append("| | figure |")
        out.append("|---|--:|")
        out.append(f"| workspaces created (through the form) | {WORKSPACES} in {res['create_s']:.1f} s |")
        out.append(f"| prefect processes under the data directory (after the list page, 3 dashboards and {SETTLE:g} s) | {res['idle_procs']} |")
        out.append(f"| server folders (`<data dir>/prefect/*`) | {res['idle_dirs']} |")
        out.append(f"| `managed_servers` rows | {res['idle_rows']} |")
        if backend == "postgres":
            out.append(f"| server databases (`{PG_DB}_ws_*`) | {res['idle_dbs']} |")
        out.append(f"| workspace list: \"Not started\" shown | {res['not_started_shown']} |")
        out.append(f"| Atrium VmRSS before creating them | {mib(res['rss_before']):.1f} MiB |")
        out.append(f"| Atrium VmRSS after | {mib(res['rss_after']):.1f} MiB "
                   f"({mib(res['rss_after'] - res['rss_before']):+.1f}) |")
        out.append("")
        out.append(f"→ {'No server, folder, row or process for a workspace nobody calls' if not res['idle_procs'] and not res['idle_dirs'] and not res['idle_rows'] else '**Something started for idle workspaces**'}; "
                   f"{WORKSPACES} workspaces cost Atrium "
                   f"{mib(res['rss_after'] - res['rss_before']):+.1f} MiB of resident memory.")
        out.append("")

    # 2
    if res.get("starts"):
        st = res["starts"]
        out.append(f"## 2. Start-up time (first call)")
        out.append("")
        out.append(f"`POST /api/accounts/<account>/workspaces/<workspace>/flows/filter` with "
                   f"`{{}}`, Bearer API key, one workspace after the other (the servers "
                   f"started before keep running). Server CPU = user + system time of the "
                   f"server's processes when the first call had answered (less dependent on "
                   f"the machine's other load than the wall time).")
        out.append("")
        out.append("| workspace | first call s | second call ms | server CPU to answer s | processes | load average |")
        out.append("|---|--:|--:|--:|--:|---|")
        for s in st:
            out.append(f"| {s['label']} | {s['first']:.2f} | {s['second'] * 1e3:.1f} | "
                       f"{s['cpu']:.1f} | {s['procs']} | {s['load']} |")
        out.append(f"| **median** | **{median([s['first'] for s in st]):.2f}** | "
                   f"**{median([s['second'] for s in st]) * 1e3:.1f}** | "
                   f"**{median([s['cpu'] for s in st]):.1f}** | | |")
        out.append("")
        if backend == "postgres":
            out.append("On PostgreSQL the server CPU leaves out the database server's share "
                       "(the migrations run in PostgreSQL's backends): hence the gap between "
                       "the wall time and the server's CPU.")
            out.append("")
        first, cpu = median([s['first'] for s in st]), median([s['cpu'] for s in st])
        if cpu >= 0.7 * first:
            why = ("mostly the server's own CPU (Python start-up, Prefect's imports, its "
                   "database's migrations on first start)")
        else:
            why = (f"{cpu:.0f} s of it the server's own CPU (Python start-up, Prefect's "
                   f"imports, its database's migrations on first start), the rest waiting "
                   f"for a core on this shared machine"
                   + (" and for PostgreSQL" if backend == "postgres" else ""))
        out.append(f"→ A workspace's first call waits about {first:.0f} s "
                   f"for its server, {why}; the second call (a new "
                   f"connection to Atrium) takes {median([s['second'] for s in st]) * 1e3:.0f} ms, "
                   f"calls on a kept connection about "
                   f"{median([median(t) for t in res.get('burst', {}).values()] or [float('nan')]) * 1e3:.0f} ms "
                   f"(part 3).")
        out.append("")

    # 3
    if res.get("after_mem"):
        st = res["starts"]
        out.append(f"## 3. Resident memory of a managed server")
        out.append("")
        out.append(f"Idle: {SETTLE:g} s after the last start. After: {BURST} calls (the same "
                   f"`flows/filter`) one after the other on one keep-alive connection, per "
                   f"server.")
        out.append("")
        out.append("| workspace | RSS idle MiB | PSS idle MiB | RSS after MiB | PSS after MiB | burst: p50 ms | p99 ms | calls/s |")
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|")
        for s in st:
            i, f = res["idle_mem"][s["ws"]], res["after_mem"][s["ws"]]
            t = res["burst"][s["ws"]]
            ts = sorted(t)
            out.append(f"| {s['label']} | {mib(i[0]):.1f} | {mib(i[1]):.1f} | {mib(f[0]):.1f} | "
                       f"{mib(f[1]):.1f} | {median(t) * 1e3:.1f} | "
                       f"{ts[min(len(ts) - 1, int(len(ts) * 0.99))] * 1e3:.1f} | "
                       f"{len(t) / sum(t):.0f} |")
        med = lambda k, j: median([res[k][s["ws"]][j] for s in st])
        out.append(f"| **median** | **{mib(med('idle_mem', 0)):.1f}** | **{mib(med('idle_mem', 1)):.1f}** | "
                   f"**{mib(med('after_mem', 0)):.1f}** | **{mib(med('after_mem', 1)):.1f}** | | | |")
        out.append("")
        parts = res["after_mem"][st[0]["ws"]][2]
        out.append(f"Processes of {st[0]['label']}'s server after the burst: "
                   + ", ".join(f"{n} {mib(k):.1f} MiB" for n, k in parts) + ".")
        out.append("")
        out.append(f"Atrium's own VmRSS with {len(st)} servers running: "
                   f"{mib(res['atrium_rss_servers']):.1f} MiB; after the bursts "
                   f"{mib(res['atrium_rss_burst']):.1f} MiB.")
        out.append("")
        if backend == "postgres" and res.get("pg_after") is not None:
            def pgline(d, when):
                n = sum(v[0] for v in d.values())
                rss = sum(v[1] for v in d.values())
                pss = sum(v[2] for v in d.values())
                return (f"{when}: {n} backends on {len(d)} server databases, VmRSS "
                        f"{mib(rss):.1f} MiB in all (PSS {mib(pss):.1f} MiB; "
                        f"{mib(pss / max(1, len(d))):.1f} MiB per server)")
            out.append("PostgreSQL backends connected to the servers' databases (VmRSS counts "
                       "the shared buffers each touched; PSS shares them out): "
                       + pgline(res["pg_idle"], "idle") + "; "
                       + pgline(res["pg_after"], "after the bursts") + ".")
            out.append("")
            per = [v[0] for v in res["pg_after"].values()]
            if per:
                most = max(per)
                held = f"{min(per)}–{most}" if min(per) != most else str(most)
                out.append(f"Connections: each server held {held} connections to "
                           f"PostgreSQL (Prefect's SQLAlchemy pool: 5, up to 15 with its "
                           f"overflow). At the default ATRIUM_MANAGED_MAX_RUNNING=8 that is "
                           f"{8 * most} connections idle, up to 120 under load, per Atrium "
                           f"instance, besides Atrium's own pool; this PostgreSQL server allows "
                           f"max_connections={res.get('pg_max_connections', '?')}.")
                out.append("")
        out.append(f"→ Each running server holds about {mib(med('after_mem', 1)):.0f} MiB "
                   f"(PSS; {mib(med('after_mem', 0)):.0f} MiB summed VmRSS): the price of a "
                   f"workspace in use, paid only while it is used and for "
                   f"ATRIUM_MANAGED_IDLE_MINUTES after.")
        out.append("")

    # stops
    for key, when in (("stop1", "after the start-up and memory measurements"),
                      ("stop2", "at the end")):
        if key in res:
            s = res[key]
            per = (f" (about {s['took'] / s['running']:.1f} s per server: they are stopped "
                   f"one after the other)" if s["running"] else "")
            out.append(f"Atrium stopped {when}: {s['how']} answered in {s['took']:.1f} s with "
                       f"{s['running']} servers running{per}; prefect processes left under the "
                       f"data directory: **{s['left']}**.")
            out.append("")

    # 4
    if res.get("limit"):
        out.append(f"## 4. At most {MAX_RUNNING} running (ATRIUM_MANAGED_MAX_RUNNING={MAX_RUNNING})")
        out.append("")
        out.append(f"Atrium started again on the same data with "
                   f"ATRIUM_MANAGED_MAX_RUNNING={MAX_RUNNING}; {LIMIT_CALLS} workspaces not "
                   f"started before, called one after the other, then "
                   f"{res['limit'][-1]['label'].split(' ')[0]} again (its server folder"
                   f"{' and database' if backend == 'postgres' else ''} kept from part 2: no "
                   f"migrations to apply). Server groups counted after each call and every "
                   f"{SAMPLE:g} s during the calls; \"as expected\" = at most {MAX_RUNNING} and "
                   f"exactly the {MAX_RUNNING} workspaces called last.")
        out.append("")
        out.append("| call | call s | server CPU to answer s | load average | status | running after (server groups) | stopped by this call | as expected |")
        out.append("|---|--:|--:|---|--:|---|---|---|")
        for i, row in enumerate(res["limit"], 1):
            out.append(f"| {i}. {row['label']} | {row['took']:.2f} | {row['cpu']:.1f} | "
                       f"{row['load']} | {row['status']} | "
                       f"{len(row['running'])}: {', '.join(row['running'])} | "
                       f"{', '.join(row['stopped']) or '–'} | {'yes' if row['ok'] else '**no**'} |")
        out.append("")
        p = res["peak"]
        out.append(f"Most server groups seen at once: **{p['max']}** ({p['samples']} samples"
                   f"{', first ' + p['when'] if p['max'] else ''}). Atrium's log: "
                   f"{res.get('limit_log_stops', 0)} servers stopped because \"the most running "
                   f"servers were reached\". `managed_servers` rows by state: "
                   + ", ".join(f"{k} {v}" for k, v in sorted(res.get('limit_rows', {}).items()))
                   + ".")
        out.append("")
        good = all(row["ok"] for row in res["limit"]) and p["max"] <= MAX_RUNNING
        last = res["limit"][-1]
        out.append(f"→ {'Never more than ' + str(MAX_RUNNING) + ' servers; each start beyond the limit first stopped the least recently used one (its time includes that stop)' if good else '**The limit did not hold**'}. "
                   f"A server started again on its kept data answered in {last['took']:.1f} s "
                   f"({last['cpu']:.1f} s of its CPU), against "
                   f"{median([x['took'] for x in res['limit'][:-1]]):.1f} s "
                   f"({median([x['cpu'] for x in res['limit'][:-1]]):.1f} s) for a first start "
                   f"here.")
        out.append("")

    if backend == "postgres":
        out.append(f"Server databases: {res.get('dbs_after_starts', '?')} after the {STARTS} "
                   f"starts, {res.get('dbs_end', '?')} at the end; "
                   f"{res.get('dbs_dropped', '?')} dropped by the benchmark with `{PG_DB}`.")
        out.append("")

    # checks
    out.append("## Checks")
    out.append("")
    out.append(f"Answers by status: "
               + ", ".join(f"{k}: {v}" for k, v in sorted(r.checker.counts.items())) + ".")
    out.append("")
    if r.checker.unexpected:
        out.append("Unexpected answers:")
        for phase, what, status, detail in r.checker.unexpected:
            out.append(f"- {phase}: {what}: {status} `{detail[:200]}`")
        out.append("")
    if r.failures:
        out.append("Failed checks:")
        for check, seen in r.failures:
            out.append(f"- {check}: {seen}")
        out.append("")
    out.append(f"Result: {'**pass**' if ok else '**FAIL**'}.")
    out.append("")
    return "\n".join(out), ok


def prefect_version(prefect_bin):
    venv = os.path.dirname(os.path.dirname(os.path.realpath(prefect_bin)))
    for d in glob.glob(os.path.join(venv, "lib", "python*", "site-packages",
                                    "prefect-*.dist-info")):
        return os.path.basename(d)[len("prefect-"):-len(".dist-info")]
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--atrium", required=True)
    ap.add_argument("--prefect", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("backends", nargs="*")
    a = ap.parse_args()
    a.work = os.path.abspath(a.work)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    global NICE
    try:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    except PermissionError:
        NICE = os.getpriority(os.PRIO_PROCESS, 0)
        log(f"running at nice {NICE} (MANAGED_NICE needs root)")
    if STARTS + LIMIT_CALLS > WORKSPACES:
        sys.exit("managed: MANAGED_WORKSPACES must be at least MANAGED_STARTS + "
                 "MANAGED_LIMIT_CALLS")
    command = " ".join(
        [f"{k}={shlex.quote(os.environ[k])}" for k in sorted(os.environ)
         if k.startswith("MANAGED_") and k not in ("MANAGED_PIDS_FILE", "MANAGED_WORK")]
        + ([f"ATRIUM_BENCH_POSTGRES_URL={shlex.quote(redact(PG_ADMIN))}"]
           if "ATRIUM_BENCH_POSTGRES_URL" in os.environ else [])
        + ["bench/managed", *a.backends])
    log(f"command: {command}")
    all_ok = True
    try:
        for b in a.backends or ["sqlite", "postgres"]:
            if b not in ("sqlite", "postgres"):
                sys.exit(f"managed: unknown backend {b}")
            if b == "postgres":
                try:
                    psql("SELECT 1")
                except (RuntimeError, FileNotFoundError):
                    log(f"PostgreSQL at {redact(PG_ADMIN)} does not answer: skipping it")
                    continue
            md, ok = run_backend(b, a, command, a.work)
            print(md, flush=True)
            all_ok &= ok
    finally:
        PROCS.stop_all()
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
