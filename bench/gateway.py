#!/usr/bin/env python3
"""The gateway benchmark (issue #21, "Performance"; started by bench/gateway, which builds,
installs wrk and nginx and makes the prefect virtualenv).

For each backend: start a Prefect server (its own SQLite database in its PREFECT_HOME, a
temporary folder in /dev/shm; a random auth string), seed it (a flow, a process work pool,
a deployment, 50 flow runs), start nginx as a plain reverse proxy in front of it (the floor:
the path rewritten, the Basic header added, keep-alive upstream) and Atrium (release binary, a fresh database), sign a user up
through the real forms, create an organization and a workspace, connect the workspace to the
server on its settings page and make an API key on the API keys page. Then, for three calls
(flow runs filter with 50 runs, one deployment, 100 logs), each made straight to the server,
through nginx and through Atrium:

- warm-up: GATEWAY_WARMUP seconds of wrk per target;
- throughput: GATEWAY_PASSES passes of GATEWAY_DURATION seconds of wrk on
  GATEWAY_CONNECTIONS keep-alive connections per target, the order reversed each pass
  (direct, nginx, Atrium, then Atrium, nginx, direct, …) so that a drift of the server or a
  burst of other work counts against no target in particular; around each run the CPU time of the Prefect server, of
  nginx, of Atrium and (PostgreSQL) of the backends serving Atrium's database, and the
  statements Atrium's database saw;
- latency: GATEWAY_SEQ_ROUNDS rounds (at most GATEWAY_SEQ_SECONDS) of one request at a
  time, the three targets interleaved (one request to each in turn, the order rotated every
  round) on one keep-alive connection each, so that the three see the server in the same
  state.

Every answer's status is checked (200, or 201 for the logs); any other fails the run and is
listed. Writes bench/results/gateway-<backend>.md; exits non-zero when a budget fails or an
unexpected status was seen.
"""

import argparse
import base64
import datetime
import glob
import http.client
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import benchlib
from benchlib import Browser, call, free_port, redact, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
DURATION = float(os.environ.get("GATEWAY_DURATION", "5"))
PASSES = int(os.environ.get("GATEWAY_PASSES", "6"))
CONNECTIONS = int(os.environ.get("GATEWAY_CONNECTIONS", "8"))
WARMUP = float(os.environ.get("GATEWAY_WARMUP", "2"))
# One request at a time: this many rounds, or fewer when they take longer than SEQ_SECONDS.
SEQ_ROUNDS = int(os.environ.get("GATEWAY_SEQ_ROUNDS", "300"))
SEQ_SECONDS = float(os.environ.get("GATEWAY_SEQ_SECONDS", "30"))
FLOW_RUNS = int(os.environ.get("GATEWAY_FLOW_RUNS", "50"))
LOGS = int(os.environ.get("GATEWAY_LOGS", "100"))
IDLE_SECONDS = float(os.environ.get("GATEWAY_IDLE_SECONDS", "5"))
# The driver and everything it starts (the Prefect server, nginx, Atrium, wrk) run at this
# nice level when allowed (root), ahead of whatever else shares the machine.
NICE = int(os.environ.get("GATEWAY_NICE", "-10"))
PG_ADMIN = os.environ.get(
    "ATRIUM_BENCH_POSTGRES_URL",
    os.environ.get("ATRIUM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
)
PG_DB = "atrium_gwbench"
# The PostgreSQL server's log, where `log_statement = 'all'` on Atrium's database writes
# each statement (found and checked with a marker statement when unset; "none" counts
# transactions in pg_stat_database instead).
PG_LOG = os.environ.get("GATEWAY_PG_LOG", "")
# pg_stat_database is written by an idle backend up to 10 s late (PGSTAT_IDLE_INTERVAL).
PG_STATS_SETTLE = 11.0
TARGETS = ["direct", "nginx", "atrium"]
TARGET_LABEL = {"direct": "straight to Prefect", "nginx": "nginx (reverse proxy)",
                "atrium": "Atrium (gateway)"}

# Budgets (issue #21, "Performance").
CPU_SHARE = 0.10       # Atrium's CPU per call ≤ 10% of the Prefect server's (same call)
RPS_SHARE = 0.90       # Atrium's requests/s ≥ 0.9 × straight to the server
ADDED_P50 = 0.001      # p50(Atrium) − p50(direct) ≤ 1 ms, one request at a time
STATEMENTS = 0.10      # PostgreSQL: statements per call on the request pool (≈ 0)


def log(msg):
    print(f"gateway: {msg}", file=sys.stderr, flush=True)




# ---------- processes: started in their own group, all ended on the way out ----------


class Procs:
    """The processes this run started (each the leader of its own process group). Their
    group ids are also written to GATEWAY_PIDS_FILE, for bench/gateway to end whatever a
    killed driver left behind."""

    def __init__(self):
        self.running = {}  # name -> Popen
        self.pids_file = os.environ.get("GATEWAY_PIDS_FILE")

    def _write(self):
        if self.pids_file:
            with open(self.pids_file, "w") as f:
                for name, p in self.running.items():
                    f.write(f"{p.pid} {name}\n")

    def start(self, name, cmd, env, logfile, cwd=None):
        f = open(logfile, "w")
        p = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=cwd,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.running[name] = p
        self._write()
        return p

    def stop(self, name, sig=signal.SIGTERM):
        p = self.running.pop(name, None)
        self._write()
        if p is None:
            return
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        # Whatever else is left in its group (e.g. a child that outlived it).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop_all(self):
        for name in list(self.running):
            self.stop(name)


PROCS = Procs()
PREFECT_HOMES = []  # removed on the way out


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# ---------- CPU from /proc ----------


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if int(stat_fields(d)[2]) == pgid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return out


def proc_cpu(pid):
    """(user + system seconds of the whole process, exited threads included, in clock
    ticks; {tid: nanoseconds on CPU} of its live threads, from schedstat)."""
    try:
        f = stat_fields(pid)
        ticks = (int(f[11]) + int(f[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None
    threads = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as s:
                    threads[tid] = int(s.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return ticks, threads


def psql(sql, url=None, check=True):
    return benchlib.psql(url or PG_ADMIN, sql, check)


def pg_backend_pids():
    out = psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{PG_DB}'")
    return [int(p) for p in out.split()]


def machine_busy():
    """(busy, total) clock ticks of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    return sum(vals[:8]) - idle, sum(vals[:8])


def passive_opens():
    """TCP connections this machine has accepted since boot (/proc/net/snmp, Tcp:
    PassiveOpens): during one target's wrk run, wrk's own connections plus those the proxy
    opened to the Prefect server (and any other accepted meanwhile)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("PassiveOpens")])


class Meter:
    """CPU seconds per group of processes: each process's schedstat time of its live
    threads (nanoseconds), or its user + system ticks less one when larger (threads that ran
    and exited between the two samples: Prefect's database threads come and go)."""

    def __init__(self, groups, postgres):
        self.groups = groups  # name -> process group id
        self.postgres = postgres

    def sample(self):
        s = {}
        for name, pgid in self.groups.items():
            s[name] = {pid: proc_cpu(pid) for pid in group_pids(pgid)}
        if self.postgres:
            s["atrium-db"] = {pid: proc_cpu(pid) for pid in pg_backend_pids()}
        s["_machine"] = machine_busy()
        s["_opens"] = passive_opens()
        s["_children"] = resource.getrusage(resource.RUSAGE_CHILDREN)
        s["_t"] = time.perf_counter()
        return s

    @staticmethod
    def delta(before, after):
        out = {}
        for name, procs in after.items():
            if name.startswith("_"):
                continue
            total = 0.0
            for pid, now in procs.items():
                if now is None:
                    continue
                ticks, threads = now
                was = before.get(name, {}).get(pid)
                if was is None:
                    ns = sum(threads.values())
                    dt = ticks
                else:
                    ns = sum(v - was[1].get(t, 0) for t, v in threads.items())
                    dt = ticks - was[0]
                total += max(ns / 1e9, dt - 1 / CLK_TCK)
            out[name] = total
        b0, t0 = before["_machine"]
        b1, t1 = after["_machine"]
        out["_machine_busy"] = (b1 - b0) / CLK_TCK
        out["_elapsed"] = after["_t"] - before["_t"]
        out["_opens"] = after["_opens"] - before["_opens"]
        c0, c1 = before["_children"], after["_children"]
        out["_children"] = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        return out


# ---------- the PostgreSQL statements Atrium's database saw ----------


LOG_LINE = re.compile(r"\[(\d+)\][^\n]*@" + PG_DB + r" LOG:  (?:statement|execute [^:]*): (.*)")


class PgStatements:
    """Statements on Atrium's database, from the server's log (`log_statement = 'all'` on
    that database): each line names its backend, so the background pool's connections (the
    access-version poller's and the mail sender's: the backends that ever ran a statement on
    `access_version` or `outbox`) are told from the request pool's."""

    def __init__(self, path):
        self.path = path
        self.background = set()

    def offset(self):
        return os.path.getsize(self.path)

    def read(self, start, end=None):
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(end - start)
        lines = []
        for m in LOG_LINE.finditer(data.decode("utf-8", "replace")):
            pid, text = int(m.group(1)), m.group(2).strip()
            if "access_version" in text or "outbox" in text:
                self.background.add(pid)
            lines.append((pid, text))
        return lines

    def count(self, start, end):
        """(statements on the request pool, on the background pool, the request pool's
        statements by text, most frequent first)."""
        if end < start:
            raise RuntimeError(f"{self.path} was rotated during the run: run again")
        lines = self.read(start, end)
        req = [t for p, t in lines if p not in self.background]
        bg = [t for p, t in lines if p in self.background]
        by_text = {}
        for t in req:
            k = re.sub(r"\s+", " ", t)[:90]
            by_text[k] = by_text.get(k, 0) + 1
        return len(req), len(bg), sorted(by_text.items(), key=lambda kv: -kv[1])


def find_pg_log():
    """The PostgreSQL server's log file, when this machine can read it and statements on
    PG_DB show up in it with the database's name (checked with a marker); else None."""
    if PG_LOG == "none":
        return None
    host = urllib.parse.urlparse(PG_ADMIN).hostname or "localhost"
    if PG_LOG:
        candidates = [PG_LOG]
    elif host in ("127.0.0.1", "localhost", "::1") or host.startswith("/"):
        candidates = sorted(glob.glob("/var/log/postgresql/*.log"),
                            key=lambda p: -os.path.getmtime(p))
    else:
        return None
    db_url = urllib.parse.urlunparse(urllib.parse.urlparse(PG_ADMIN)._replace(path="/" + PG_DB))
    for path in candidates:
        try:
            start = os.path.getsize(path)
        except OSError:
            continue
        marker = f"gwbench-marker-{secrets.token_hex(6)}"
        r = subprocess.run(["psql", db_url, "-qAt", "-c", "SET log_statement = 'all'",
                            "-c", f"SELECT '{marker}'"], capture_output=True, text=True)
        if r.returncode != 0:
            return None
        time.sleep(0.3)
        try:
            with open(path, "rb") as f:
                f.seek(start)
                tail = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if any(marker in line and f"@{PG_DB} " in line and LOG_LINE.search(line)
               for line in tail.splitlines()):
            return path
    return None


def pg_xacts():
    return int(psql(f"SELECT xact_commit + xact_rollback FROM pg_stat_database "
                    f"WHERE datname = '{PG_DB}'") or 0)


# ---------- HTTP ----------


# ---------- one call, three targets ----------


class Call:
    def __init__(self, key, label, method, rest, body, status):
        self.key, self.label, self.method, self.rest = key, label, method, rest
        self.body = body  # bytes or None
        self.status = status


class Target:
    def __init__(self, name, port, prefix, auth):
        self.name, self.port, self.prefix, self.auth = name, port, prefix, auth

    def path(self, call):
        return f"{self.prefix}/{call.rest}"

    def headers(self, call):
        h = {"Authorization": self.auth, "Accept": "application/json"}
        if call.body is not None:
            h["Content-Type"] = "application/json"
        return h


LUA = r"""
wrk.method = "%(method)s"
%(headers)s
%(body)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do all[k] = (all[k] or 0) + v end
  end
  for k, v in pairs(all) do io.write(string.format("gw status %%d %%d\n", k, v)) end
  io.write(string.format("gw requests %%d\ngw duration_us %%d\n", summary.requests, summary.duration))
  io.write(string.format("gw p50_us %%d\ngw p99_us %%d\n", latency:percentile(50), latency:percentile(99)))
  local e = summary.errors
  io.write(string.format("gw errors %%d %%d %%d %%d\n", e.connect, e.read, e.write, e.timeout))
end
"""


def lua_script(work, target, call):
    path = os.path.join(work, f"wrk-{call.key}-{target.name}.lua")
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in target.headers(call).items())
    body = ""
    if call.body is not None:
        bpath = os.path.join(work, f"body-{call.key}.json")
        with open(bpath, "wb") as f:
            f.write(call.body)
        body = f'local f = io.open("{bpath}", "rb"); wrk.body = f:read("*a"); f:close()'
    with open(path, "w") as f:
        f.write(LUA % {"method": call.method, "headers": headers, "body": body})
    return path


def wrk(script, port, path, duration, conns):
    cmd = ["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{max(1, round(duration))}s",
           "--timeout", "20s", "-s", script, f"http://127.0.0.1:{port}{path}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    out = p.stdout
    res = {"statuses": {}, "raw": out}
    for m in re.finditer(r"^gw status (\d+) (\d+)$", out, re.M):
        res["statuses"][int(m.group(1))] = int(m.group(2))
    g = lambda k: int(re.search(rf"^gw {k} (\d+)$", out, re.M).group(1))
    res["requests"] = g("requests")
    res["duration"] = g("duration_us") / 1e6
    res["p50"] = g("p50_us") / 1e6
    res["p99"] = g("p99_us") / 1e6
    res["errors"] = [int(x) for x in re.search(r"^gw errors (.*)$", out, re.M).group(1).split()]
    return res


def sequential(targets, the_call, seconds, max_rounds):
    """One request at a time, the targets interleaved (the order rotated every round):
    latencies in seconds per target, and the statuses seen."""
    conns = {t.name: http.client.HTTPConnection("127.0.0.1", t.port, timeout=60)
             for t in targets}
    times = {t.name: [] for t in targets}
    statuses = {t.name: {} for t in targets}
    stop = time.perf_counter() + seconds
    r = 0
    while r < max_rounds and (time.perf_counter() < stop or r < 20):
        order = targets[r % len(targets):] + targets[:r % len(targets)]
        for t in order:
            c = conns[t.name]
            t0 = time.perf_counter_ns()
            c.request(the_call.method, t.path(the_call), body=the_call.body,
                      headers=t.headers(the_call))
            resp = c.getresponse()
            resp.read()
            took = (time.perf_counter_ns() - t0) / 1e9
            times[t.name].append(took)
            statuses[t.name][resp.status] = statuses[t.name].get(resp.status, 0) + 1
        r += 1
    for c in conns.values():
        c.close()
    return times, statuses, r


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(len(v) * p))]


# ---------- one backend ----------


def nginx_conf(d, port, prefect_port, basic):
    return f"""daemon off;
master_process on;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    upstream prefect {{
        server 127.0.0.1:{prefect_port};
        keepalive 32;
        keepalive_requests 1000000;
        # Below uvicorn's 5 s, so that nginx never reuses a connection the server closed.
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /nginx-health {{ return 200 "ok\\n"; }}
        location /api/accounts/ {{
            rewrite ^/api/accounts/[^/]+/workspaces/[^/]+/(.*)$ /api/$1 break;
            proxy_pass http://prefect;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "{basic}";
            proxy_buffers 64 8k;
            proxy_busy_buffers_size 64k;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
"""


def backend_url(backend, work):
    if backend == "sqlite":
        return f"sqlite://{work}/atrium/atrium.db"
    u = urllib.parse.urlparse(PG_ADMIN)
    return urllib.parse.urlunparse(u._replace(path="/" + PG_DB))


def start_prefect(work, prefect_bin):
    # The server's home (and SQLite database) in memory when /dev/shm is there: its writes
    # then wait for no disk shared with other work (the logs call commits 100 rows).
    shm = os.environ.get("GATEWAY_PREFECT_HOME_IN", "/dev/shm")
    home = tempfile.mkdtemp(prefix="atrium-gwbench-prefect-",
                            dir=shm if os.access(shm, os.W_OK) else None)
    PREFECT_HOMES.append(home)
    port = free_port()
    auth = f"bench:{secrets.token_hex(16)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ATRIUM_"))}
    env.update({"PREFECT_HOME": home, "PREFECT_SERVER_API_AUTH_STRING": auth,
                "DO_NOT_TRACK": "1"})
    logfile = os.path.join(work, "prefect.log")
    p = PROCS.start("prefect", [prefect_bin, "server", "start", "--host", "127.0.0.1",
                                "--port", str(port), "--no-ui", "--analytics-off"],
                    env, logfile)
    basic = "Basic " + base64.b64encode(auth.encode()).decode()
    t = time.perf_counter()
    wait_for("the Prefect server",
             lambda: call(port, "GET", "/api/health", {"Authorization": basic}, timeout=2)[0]
             == 200, p, logfile)
    log(f"Prefect server on port {port} (pid {p.pid}) answered after "
        f"{time.perf_counter() - t:.1f} s")
    return p, port, auth, basic


def prefect_json(port, basic, method, path, body, expect):
    for attempt in range(6):
        status, data = call(port, method, path,
                            {"Authorization": basic, "Content-Type": "application/json"},
                            json.dumps(body).encode() if body is not None else None)
        # 503: the server's SQLite database was busy ("database is locked"); its own client
        # retries these, and so does the seeding.
        if status != 503:
            break
        time.sleep(0.5 * (attempt + 1))
    if status not in expect:
        raise RuntimeError(f"seeding Prefect: {method} {path} answered {status}: {data[:300]!r}")
    return json.loads(data) if data else None


def seed_prefect(port, basic):
    flow = prefect_json(port, basic, "POST", "/api/flows/", {"name": "gwbench"}, {200, 201})
    prefect_json(port, basic, "POST", "/api/work_pools/",
                 {"name": "gwbench", "type": "process"}, {201})
    dep = prefect_json(port, basic, "POST", "/api/deployments/",
                       {"name": "gwbench", "flow_id": flow["id"], "work_pool_name": "gwbench"},
                       {200, 201})
    runs = [prefect_json(port, basic, "POST", "/api/flow_runs/",
                         {"flow_id": flow["id"], "name": f"gwbench-{i:03d}"}, {201})
            for i in range(FLOW_RUNS)]
    found = prefect_json(port, basic, "POST", "/api/flow_runs/filter", {"limit": 50}, {200})
    if len(found) != min(50, FLOW_RUNS):
        raise RuntimeError(f"the flow runs filter found {len(found)} runs, not 50")
    return flow["id"], dep["id"], runs[0]["id"]


def logs_body(flow_run_id):
    now = datetime.datetime.now(datetime.timezone.utc)
    return json.dumps([{
        "name": "gwbench",
        "level": 20,
        "message": f"Benchmark log line {i:03d}: finished step {i} of {LOGS} in 0.{i:03d} s",
        "timestamp": (now + datetime.timedelta(milliseconds=i)).isoformat(),
        "flow_run_id": flow_run_id,
    } for i in range(LOGS)]).encode()


def setup_atrium(port, prefect_port, auth):
    """Sign-up, organization, workspace, server connection and API key, all through the
    pages: (account id, workspace id, key)."""
    b = Browser(port)
    password = "gwbench-" + secrets.token_hex(8)
    status, _, _ = b.request("GET", "/auth/signup")
    if status != 200 or not b.token:
        raise RuntimeError(f"sign-up page: {status}")
    status, hs, text = b.request("POST", "/auth/signup", {
        "email": "gwbench@example.com", "handle": "gwbench", "first_name": "Gateway",
        "last_name": "Bench", "password": password})
    if status != 303:
        raise RuntimeError(f"sign-up: {status}: {text[:300]}")
    b.request("GET", "/accounts/new")
    status, hs, text = b.request("POST", "/accounts/new",
                                 {"name": "Gateway Bench", "handle": "gwbench-org"})
    if status != 303:
        raise RuntimeError(f"new organization: {status}: {text[:300]}")
    account = hs["location"].removeprefix("/account/").split("/")[0]
    b.request("GET", f"/account/{account}/members")
    status, hs, text = b.request("POST", f"/account/{account}/workspaces",
                                 {"name": "Bench", "handle": "bench", "description": ""})
    if status != 303:
        raise RuntimeError(f"new workspace: {status}: {text[:300]}")
    workspace = hs["location"].split("/")[4]
    page = f"/account/{account}/workspace/{workspace}/settings/server"
    b.request("GET", page)
    status, _, text = b.request("POST", page, {"url": f"http://127.0.0.1:{prefect_port}",
                                               "auth_string": auth})
    if status != 200 or "Connected to Prefect" not in text:
        m = re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]+)', text)
        raise RuntimeError(f"connecting the server: {status}: {m.group(1) if m else text[:300]}")
    version = re.search(r"Connected to Prefect ([^<.]+(?:\.[0-9]+)*)", text)
    b.request("GET", "/profile/api-keys")
    status, _, text = b.request("POST", "/profile/api-keys",
                                {"name": "gateway bench", "expiration": ""})
    m = re.search(r'<code id="new-key">([^<]+)</code>', text)
    if status != 200 or not m:
        raise RuntimeError(f"new API key: {status}: {text[:300]}")
    return account, workspace, m.group(1).strip(), version.group(1) if version else "?"


def first_check(targets, call_):
    """One call per target before any timing: the expected status everywhere, and the same
    answer through nginx and Atrium as straight from the server."""
    bodies = {}
    for t in targets:
        status, data = call(t.port, call_.method, t.path(call_), t.headers(call_), call_.body)
        if status != call_.status:
            raise RuntimeError(f"{call_.key} {t.name}: expected {call_.status}, got {status}: "
                               f"{data[:300]!r}")
        bodies[t.name] = json.loads(data) if data else None
    if call_.key == "filter":
        ids = {n: [r["id"] for r in b] for n, b in bodies.items()}
        if len(ids["direct"]) != 50 or len({tuple(v) for v in ids.values()}) != 1:
            raise RuntimeError(f"filter: the targets answered different runs: "
                               f"{ {n: len(v) for n, v in ids.items()} }")
    elif call_.key == "deployment":
        if len({json.dumps(b, sort_keys=True) for b in bodies.values()}) != 1:
            raise RuntimeError("deployment: the targets answered different deployments")


def run_backend(backend, a, command):
    work = os.path.join(ROOT, "bench", "work", f"gateway-{backend}")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "atrium"))
    os.makedirs(os.path.join(work, "nginx"))
    postgres = backend == "postgres"
    started = time.perf_counter()
    stmts = None
    unexpected = []  # (call, target, phase, status, count)
    try:
        if postgres:
            psql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            psql(f"CREATE DATABASE {PG_DB}")
            path = find_pg_log()
            if path:
                psql(f"ALTER DATABASE {PG_DB} SET log_statement = 'all'")
                stmts = PgStatements(path)
                log(f"postgres: counting statements from {path} (log_statement = 'all' on "
                    f"{PG_DB})")
            else:
                log("postgres: no server log to read statements from (GATEWAY_PG_LOG=none, "
                    "or none found here): counting transactions in pg_stat_database instead")
        prefect, prefect_port, auth, basic = start_prefect(work, a.prefect)
        flow_id, deployment_id, run_id = seed_prefect(prefect_port, basic)
        log(f"{backend}: Prefect seeded (1 flow, 1 deployment, {FLOW_RUNS} flow runs)")

        nport = free_port()
        nd = os.path.join(work, "nginx")
        with open(os.path.join(nd, "nginx.conf"), "w") as f:
            f.write(nginx_conf(nd, nport, prefect_port, basic))
        nlog = os.path.join(work, "nginx.log")
        ngx = PROCS.start("nginx", [a.nginx, "-p", nd, "-c", os.path.join(nd, "nginx.conf"),
                                    "-e", os.path.join(nd, "error.log")], None, nlog)
        wait_for("nginx", lambda: call(nport, "GET", "/nginx-health", timeout=2)[0] == 200,
                 ngx, os.path.join(nd, "error.log"), 30)

        aport = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRIUM_", "PREFECT_"))}
        env.update({
            "ATRIUM_DATA_DIR": os.path.join(work, "atrium"),
            "ATRIUM_DATABASE_URL": backend_url(backend, work),
            "ATRIUM_BIND": f"127.0.0.1:{aport}",
            "ATRIUM_PREFECT_SERVER_ALLOW": "127.0.0.1",
            "RUST_LOG": os.environ.get("GATEWAY_RUST_LOG", "warn"),
        })
        alog = os.path.join(work, "atrium.log")
        srv = PROCS.start("atrium", [a.atrium, "serve"], env, alog)
        wait_for("Atrium", lambda: call(aport, "GET", "/healthz", timeout=2)[0] == 200,
                 srv, alog, 120)
        account, workspace, key, version = setup_atrium(aport, prefect_port, auth)
        log(f"{backend}: Atrium on port {aport}: user signed up, workspace connected to "
            f"Prefect {version}, API key made")

        prefix = f"/api/accounts/{account}/workspaces/{workspace}"
        targets = [Target("direct", prefect_port, "/api", basic),
                   Target("nginx", nport, prefix, f"Bearer {key}"),
                   Target("atrium", aport, prefix, f"Bearer {key}")]
        calls = [
            Call("filter", f"POST …/flow_runs/filter {{\"limit\": 50}} (50 runs)", "POST",
                 "flow_runs/filter", json.dumps({"limit": 50}).encode(), 200),
            Call("deployment", "GET …/deployments/{id}", "GET", f"deployments/{deployment_id}",
                 None, 200),
            Call("logs", f"POST …/logs/ ({LOGS} logs)", "POST", "logs/", logs_body(run_id),
                 201),
        ]
        meter = Meter({"prefect": prefect.pid, "nginx": ngx.pid, "atrium": srv.pid}, postgres)

        # Idle: what each process spends doing nothing (Prefect's background services,
        # Atrium's access-version poller and mail sender).
        for c in calls:
            first_check(targets, c)
        time.sleep(1)
        before = meter.sample()
        x0 = pg_xacts() if postgres and not stmts else None
        s0 = stmts.offset() if stmts else None
        time.sleep(IDLE_SECONDS)
        idle = Meter.delta(before, meter.sample())
        idle_rate = {k: v / idle["_elapsed"] for k, v in idle.items() if not k.startswith("_")}
        idle_bg = None
        if stmts:
            req_n, bg_n, _ = stmts.count(s0, stmts.offset())
            idle_bg = bg_n / idle["_elapsed"]
        log(f"{backend}: idle for {idle['_elapsed']:.1f} s: " + ", ".join(
            f"{k} {v * 1e3:.1f} ms CPU/s" for k, v in idle_rate.items())
            + (f", {idle_bg:.1f} background statements/s" if idle_bg is not None else ""))
        xact_rate = None
        if x0 is not None:
            time.sleep(PG_STATS_SETTLE)
            x0 = pg_xacts()
            t0 = time.perf_counter()
            time.sleep(PG_STATS_SETTLE)
            xact_rate = (pg_xacts() - x0) / (time.perf_counter() - t0)
            log(f"{backend}: {xact_rate:.1f} transactions/s on {PG_DB} while idle")

        results = {}
        for c in calls:
            scripts = {t.name: lua_script(work, t, c) for t in targets}
            # Warm-up (Atrium: the key's pass is read once and remembered).
            for t in targets:
                r = wrk(scripts[t.name], t.port, t.path(c), WARMUP, CONNECTIONS)
                for st, n in r["statuses"].items():
                    if st != c.status:
                        unexpected.append((c.key, t.name, "warm-up", st, n))
            if x0 is not None:
                time.sleep(PG_STATS_SETTLE)
                xb, xt = pg_xacts(), time.perf_counter()
            runs = {t.name: [] for t in targets}
            for p in range(PASSES):
                order = targets if p % 2 == 0 else list(reversed(targets))
                for t in order:
                    o0 = stmts.offset() if stmts and t.name == "atrium" else None
                    before = meter.sample()
                    r = wrk(scripts[t.name], t.port, t.path(c), DURATION, CONNECTIONS)
                    # Answers still in flight when wrk stopped are served before the
                    # second sample (their CPU counts; the calls do not: at most
                    # CONNECTIONS of them).
                    time.sleep(0.5)
                    r["cpu"] = Meter.delta(before, meter.sample())
                    if o0 is not None:
                        time.sleep(0.2)
                        r["stmts"] = stmts.count(o0, stmts.offset())
                    for st, n in r["statuses"].items():
                        if st != c.status:
                            unexpected.append((c.key, t.name, f"pass {p + 1}", st, n))
                    if any(r["errors"]):
                        unexpected.append((c.key, t.name, f"pass {p + 1}",
                                           "socket errors (connect, read, write, timeout): "
                                           + ", ".join(map(str, r["errors"])), 1))
                    runs[t.name].append(r)
                    log(f"{backend} {c.key} {t.name} pass {p + 1}: "
                        f"{r['requests'] / r['duration']:.1f} req/s, "
                        f"p50 {r['p50'] * 1e3:.1f} ms, p99 {r['p99'] * 1e3:.1f} ms, "
                        f"{r['cpu']['_opens'] - CONNECTIONS} connections opened beyond wrk's"
                        + (f", {r['stmts'][0]} request-pool statements"
                           if "stmts" in r else ""))
            xacts = None
            if x0 is not None:
                time.sleep(PG_STATS_SETTLE)
                xacts = (pg_xacts() - xb, time.perf_counter() - xt)
            times, statuses, rounds = sequential(targets, c, SEQ_SECONDS, SEQ_ROUNDS)
            for tname, sts in statuses.items():
                for st, n in sts.items():
                    if st != c.status:
                        unexpected.append((c.key, tname, "sequential", st, n))
            results[c.key] = summarize(runs, times, rounds, idle_rate, xacts, xact_rate)
            s = results[c.key]
            log(f"{backend} {c.key}: Atrium {s['atrium']['rps']:.1f} req/s vs direct "
                f"{s['direct']['rps']:.1f}; added p50 "
                f"{(s['atrium']['seq_p50'] - s['direct']['seq_p50']) * 1e3:.2f} ms; Atrium "
                f"{s['atrium']['cpu_atrium'] * 1e3:.3f} ms CPU/call vs Prefect "
                f"{s['atrium']['cpu_prefect'] * 1e3:.2f}")
        disturbed = check_machine(results)
    finally:
        PROCS.stop_all()
        for home in PREFECT_HOMES:
            shutil.rmtree(home, ignore_errors=True)
        if postgres:
            try:
                psql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            except RuntimeError as e:
                log(str(e))
    md, ok = report(backend, command, calls, results, unexpected, idle_rate, idle_bg,
                    xact_rate, stmts is not None, version, disturbed,
                    time.perf_counter() - started)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", f"gateway-{backend}.md")
    with open(out, "w") as f:
        f.write(md)
    log(f"{backend}: wrote {out}")
    return md, ok


def summarize(runs, times, rounds, idle_rate, xacts, xact_rate):
    out = {}
    for tname, rs in runs.items():
        n = sum(r["requests"] for r in rs)
        dur = sum(r["duration"] for r in rs)
        cpu = {}
        for k in ("prefect", "nginx", "atrium", "atrium-db"):
            cpu[k] = sum(r["cpu"].get(k, 0.0) for r in rs)
        elapsed = sum(r["cpu"]["_elapsed"] for r in rs)
        # What each process spends per call, net of what it spends doing nothing (the
        # Prefect server's background services; Atrium's access-version poller and mail
        # sender, and their database backends), which would otherwise be charged to the
        # calls of the slow runs.
        net = {k: max(0.0, v - idle_rate.get(k, 0.0) * elapsed) for k, v in cpu.items()}
        busy = sum(r["cpu"]["_machine_busy"] for r in rs)
        wrk_cpu = sum(r["cpu"]["_children"] for r in rs)
        measured = sum(cpu.values())
        s = {
            "requests": n,
            "rps": n / dur,
            "p50": statistics.mean(r["p50"] for r in rs),
            "p99": statistics.mean(r["p99"] for r in rs),
            "p50s": [r["p50"] for r in rs],
            "rpss": [r["requests"] / r["duration"] for r in rs],
            "cpu_prefect_raw": cpu["prefect"] / n,
            "cpu_atrium_raw": (cpu["atrium"] + cpu["atrium-db"]) / n,
            "cpu_prefect": net["prefect"] / n,
            "cpu_nginx": net["nginx"] / n,
            "cpu_atrium": net["atrium"] / n,
            "cpu_atrium_db": net["atrium-db"] / n,
            "busy_cores": busy / elapsed,
            "wrk_cores": wrk_cpu / elapsed,
            "other_cores": max(0.0, busy - measured - wrk_cpu) / elapsed,
            # Connections accepted beyond wrk's own: a proxy's new connections to the
            # server (a pool that keeps its connections opens a few per run, not per call).
            "opens": max(0, sum(r["cpu"]["_opens"] - CONNECTIONS for r in rs)),
            "seq_p50": pct(times[tname], 0.5),
            "seq_p99": pct(times[tname], 0.99),
            "seq_n": len(times[tname]),
        }
        if tname == "atrium" and all("stmts" in r for r in rs):
            req = sum(r["stmts"][0] for r in rs)
            bg = sum(r["stmts"][1] for r in rs)
            texts = {}
            for r in rs:
                for k, v in r["stmts"][2]:
                    texts[k] = texts.get(k, 0) + v
            s["stmts"] = req / n
            s["stmts_req"] = req
            s["stmts_bg_rate"] = bg / elapsed
            s["stmts_texts"] = sorted(texts.items(), key=lambda kv: -kv[1])[:8]
        if tname == "atrium" and xacts is not None:
            d, secs = xacts
            s["xacts"] = d
            s["xacts_net"] = d - (xact_rate or 0) * secs
            s["stmts"] = max(0.0, s["xacts_net"]) / n
        out[tname] = s
    # The sequential run: paired differences (same round), as a check on the p50s, and the
    # calls that waited about 40 ms longer than the same round's direct call (Nagle's
    # algorithm on the proxy's socket meeting the client's delayed ACK).
    d = times["direct"]
    for t in ("nginx", "atrium"):
        diffs = [x - y for x, y in zip(times[t], d)]
        out[t]["paired_added"] = statistics.median(diffs)
        out[t]["stalls"] = sum(1 for x in diffs if x >= 0.035)
    out["rounds"] = rounds
    return out


def check_machine(results):
    """Runs during which something else kept the cores busy (more than 0.3 of a core not
    spent by the measured processes nor wrk): the figures are disturbed."""
    out = []
    for key, res in results.items():
        for t in TARGETS:
            if res[t]["other_cores"] > 0.3:
                out.append(f"{key}/{t}: {res[t]['other_cores']:.2f} cores")
    if out:
        log("other work on the machine during: " + ", ".join(out))
    return out


# ---------- the report ----------


def report(backend, command, calls, results, unexpected, idle_rate, idle_bg, xact_rate,
           by_log, version, disturbed, seconds):
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
    ms = lambda s: f"{s * 1e3:.2f}"
    ms1 = lambda s: f"{s * 1e3:.1f}"
    out = [f"# Gateway benchmark: {backend}", ""]
    out.append(f"Command: `{command}` (this report: its {backend} run). Commit `{git}`"
               f"{' (with local changes to src/templates)' if dirty else ''}, "
               f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
               f"{os.cpu_count()} cores ({cpu_model}), shared by the Prefect server, nginx, "
               f"Atrium, wrk and whatever else ran. Prefect {version} (`prefect server start`, "
               f"one process, its own SQLite database in "
               f"{os.path.dirname(PREFECT_HOMES[-1]) if PREFECT_HOMES else '?'}), nginx "
               f"{nginx_version()}, Atrium release build on "
               f"{'SQLite' if backend == 'sqlite' else 'PostgreSQL'}. This backend's run took "
               f"{seconds / 60:.1f} min (start-up and seeding included); the driver, the "
               f"servers and wrk ran at nice {NICE}.")
    out.append("")
    out.append(f"Per call and target: {WARMUP:g} s of warm-up, then {PASSES} passes of "
               f"{DURATION:g} s of wrk on {CONNECTIONS} keep-alive connections (2 threads; "
               f"the order of the targets reversed each pass; req/s over all passes, p50/p99 "
               f"the mean of the passes), then {SEQ_ROUNDS} rounds (at most {SEQ_SECONDS:g} s) "
               f"of one request at a time with the three targets interleaved (c=1). CPU ms/call = user + system time from "
               f"/proc (schedstat of the live threads, or the process's ticks when threads "
               f"exited) during the wrk runs, divided by the calls answered, net of what "
               f"each process spends idle (measured over {IDLE_SECONDS:g} s before the runs: "
               f"the Prefect server {idle_rate.get('prefect', 0) * 1e3:.0f} ms/s, its "
               f"background services; Atrium {idle_rate.get('atrium', 0) * 1e3:.1f} ms/s"
               + (f" and its database backends {idle_rate.get('atrium-db', 0) * 1e3:.1f} ms/s"
                  if backend == "postgres" else "")
               + ", the access-version poller and the mail sender; nginx "
               f"{idle_rate.get('nginx', 0) * 1e3:.1f} ms/s). Other load = the cores busy "
               f"during the runs (/proc/stat) beyond the measured processes and the driver's "
               f"children (wrk, psql).")
    out.append("")
    if backend == "postgres":
        if by_log:
            out.append(f"Statements/call: the statements Atrium's database logged "
                       f"(`log_statement = 'all'` on it) during Atrium's wrk runs on the "
                       f"request pool's connections, divided by the calls answered. The "
                       f"background pool's (the access-version poller every 200 ms and the "
                       f"mail sender; {idle_bg:.1f} statements/s while idle) are counted "
                       f"apart and left out.")
        else:
            out.append(f"Statements/call: transactions on Atrium's database "
                       f"(pg_stat_database, read {PG_STATS_SETTLE:g} s after the runs) during "
                       f"the {PASSES} passes, less the background rate measured idle "
                       f"({xact_rate:.1f}/s: the access-version poller and the mail sender), "
                       f"divided by Atrium's calls (no server log to read the statements "
                       f"from: a transaction may hold several statements).")
        out.append("")
    ok = not unexpected
    verdicts = []
    for c in calls:
        r = results[c.key]
        d = r["direct"]
        out.append(f"## {c.label}")
        out.append("")
        out.append("| target | req/s (c=8) | × direct | p50 ms (c=8) | p99 ms (c=8) | p50 ms (c=1) "
                   "| p99 ms (c=1) | Prefect CPU ms/call | nginx CPU ms/call | Atrium CPU ms/call "
                   + ("| Atrium DB CPU ms/call | statements/call " if backend == "postgres" else "")
                   + "| other load (cores) |")
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
                   + ("--:|--:|" if backend == "postgres" else "") + "--:|")
        for t in TARGETS:
            s = r[t]
            row = (f"| {TARGET_LABEL[t]} | {s['rps']:.1f} | {s['rps'] / d['rps']:.2f} "
                   f"| {ms1(s['p50'])} | {ms1(s['p99'])} | {ms(s['seq_p50'])} | {ms(s['seq_p99'])} "
                   f"| {ms(s['cpu_prefect'])} | "
                   + (ms(s['cpu_nginx']) if t == "nginx" else "–") + " | "
                   + (f"{s['cpu_atrium'] * 1e3:.3f}" if t == "atrium" else "–") + " |")
            if backend == "postgres":
                row += ((f" {s['cpu_atrium_db'] * 1e3:.3f} | " if t == "atrium" else " – | ")
                        + (f"{s['stmts']:.3f}" if t == "atrium" and "stmts" in s else "–")
                        + " |")
            row += f" {s['other_cores']:.2f} |"
            out.append(row)
        a, n = r["atrium"], r["nginx"]
        out.append("")
        out.append(f"c=1: {r['rounds']} rounds of one call to each target; added p50 through "
                   f"nginx {ms(n['seq_p50'] - d['seq_p50'])} ms, through Atrium "
                   f"{ms(a['seq_p50'] - d['seq_p50'])} ms (medians of the per-round differences: "
                   f"{ms(n['paired_added'])} and {ms(a['paired_added'])} ms; calls at least 35 ms "
                   f"slower than the same round's direct call: {n['stalls']} and {a['stalls']} "
                   f"of {r['rounds']}). Per pass, req/s direct / nginx / Atrium: "
                   + "; ".join(f"{x:.1f} / {y:.1f} / {z:.1f}"
                               for x, y, z in zip(d["rpss"], n["rpss"], a["rpss"]))
                   + f". With their idle share, CPU per call in Atrium's runs: the Prefect "
                   f"server {ms(a['cpu_prefect_raw'])} ms, Atrium"
                   + (" and its database backends" if backend == "postgres" else "")
                   + f" {a['cpu_atrium_raw'] * 1e3:.3f} ms. TCP connections accepted beyond "
                   f"wrk's own during the {PASSES} passes (a proxy's new connections to the "
                   f"server): direct {d['opens']}, nginx {n['opens']}, Atrium {a['opens']}.")
        if "stmts_texts" in a and a["stmts_texts"]:
            out.append("")
            out.append(f"Statements on the request pool during Atrium's runs "
                       f"({a['stmts_req']} for {a['requests']} calls):")
            for text, k in a["stmts_texts"]:
                out.append(f"- {k} × `{text}`")
        out.append("")
        # Budgets of this call.
        atrium_cpu = a["cpu_atrium"] + a["cpu_atrium_db"]
        share = atrium_cpu / a["cpu_prefect"] if a["cpu_prefect"] > 0 else float("inf")
        verdicts.append((c.label, f"Atrium's CPU ≤ {CPU_SHARE:.0%} of the Prefect server's"
                         + (" (Atrium + its database backends)" if backend == "postgres" else ""),
                         f"{atrium_cpu * 1e3:.3f} / {a['cpu_prefect'] * 1e3:.2f} ms = {share:.1%}",
                         share <= CPU_SHARE))
        rr = a["rps"] / d["rps"]
        verdicts.append((c.label, f"Atrium's req/s ≥ {RPS_SHARE}× direct",
                         f"{a['rps']:.1f} / {d['rps']:.1f} = {rr:.2f}×", rr >= RPS_SHARE))
        added = a["seq_p50"] - d["seq_p50"]
        verdicts.append((c.label, "added p50 latency ≤ 1 ms (c=1)",
                         f"{ms(a['seq_p50'])} − {ms(d['seq_p50'])} = {ms(added)} ms",
                         added <= ADDED_P50))
        if backend == "postgres" and "stmts" in a:
            verdicts.append((c.label, f"statements per call ≤ {STATEMENTS} (a remembered key "
                             "costs none)", f"{a['stmts']:.3f}", a["stmts"] <= STATEMENTS))
    out.append("## Budgets")
    out.append("")
    out.append("| call | budget | measured | holds |")
    out.append("|---|---|---|---|")
    for label, name, value, holds in verdicts:
        out.append(f"| {label} | {name} | {value} | {'yes' if holds else '**no**'} |")
        ok &= holds
    out.append(f"| all calls | only the expected status (200; 201 for the logs) | "
               f"{'none other' if not unexpected else str(sum(u[4] for u in unexpected)) + ' other'} | "
               f"{'yes' if not unexpected else '**no**'} |")
    out.append("")
    if unexpected:
        out.append("Unexpected answers:")
        for key, t, phase, st, n in unexpected:
            out.append(f"- {key}, {t}, {phase}: {st} × {n}")
        out.append("")
    notes = sanity(calls, results)
    if disturbed:
        notes.append("Other work kept the machine busy during some runs ("
                     + ", ".join(disturbed) + "): the req/s and latencies of those runs are "
                     "disturbed; the CPU per call of each process is not.")
    if notes:
        out.append("Checks on the figures:")
        out.extend(f"- {n}" for n in notes)
        out.append("")
    out.append(f"Result: {'**pass**' if ok else '**FAIL**'}.")
    out.append("")
    return "\n".join(out), ok


def sanity(calls, results):
    """Figures that would not make sense, named (and looked into by whoever reads them)."""
    notes = []
    for c in calls:
        r = results[c.key]
        d, n, a = r["direct"], r["nginx"], r["atrium"]
        for t, s in (("nginx", n), ("Atrium", a)):
            if s["rps"] > 1.10 * d["rps"]:
                notes.append(f"{c.key}: {t} served {s['rps'] / d['rps']:.2f}× the requests/s of "
                             f"the server itself, more than a proxy in front of the same server "
                             f"can explain: the spread between the passes ("
                             + ", ".join(f"{x:.1f}" for x in d["rpss"]) + " direct, "
                             + ", ".join(f"{x:.1f}" for x in s["rpss"]) + f" {t}) is the noise "
                             f"of this machine.")
            if s["seq_p50"] < d["seq_p50"] - 0.0005:
                notes.append(f"{c.key}: {t}'s p50 at c=1 is "
                             f"{(d['seq_p50'] - s['seq_p50']) * 1e3:.2f} ms below the server's "
                             f"own: noise of the server between requests.")
        for t, s, other in (("nginx", n, a), ("Atrium", a, n)):
            # A busy machine delays a few calls of any target; many more through one proxy
            # than through the other is that proxy's doing.
            if s["stalls"] >= 3 and s["stalls"] >= 3 * other["stalls"]:
                notes.append(
                    f"{c.key}: {s['stalls']} of {r['rounds']} calls through {t} at c=1 took at "
                    f"least 35 ms longer than the same round's direct call (through the other "
                    f"proxy: {other['stalls']}): the signature of Nagle's algorithm on {t}'s "
                    f"socket to the client (the answer's head and body sent in two writes) "
                    f"meeting the client's delayed ACK (40 ms on Linux); see bench/README.md, "
                    f"\"The gateway benchmark\".")
        spread = max(d["rpss"]) / min(d["rpss"]) if min(d["rpss"]) > 0 else float("inf")
        if spread > 1.25:
            notes.append(f"{c.key}: the server's own req/s varied from {min(d['rpss']):.1f} to "
                         f"{max(d['rpss']):.1f} between passes ({spread:.2f}×): differences "
                         f"between the targets of that size are this machine's noise, and "
                         f"the req/s budget cannot be judged from this run.")
        added = a["seq_p50"] - d["seq_p50"]
        if abs(added - a["paired_added"]) > 0.001:
            notes.append(f"{c.key}: the added p50 at c=1 ({added * 1e3:.2f} ms) and the median "
                         f"of the per-round differences ({a['paired_added'] * 1e3:.2f} ms) "
                         f"disagree by more than 1 ms: the server's own spread between calls "
                         f"dominates the difference of two p50s; the paired median is the "
                         f"better estimate of what Atrium adds.")
        ratio = a["cpu_prefect"] / d["cpu_prefect"] if d["cpu_prefect"] > 0 else 0
        if not 0.75 <= ratio <= 1.33:
            notes.append(f"{c.key}: the Prefect server spent {ratio:.2f}× the CPU per call "
                         f"through Atrium than straight: the same call should cost it the same.")
    return notes


def nginx_version():
    r = subprocess.run([ARGS.nginx, "-v"], capture_output=True, text=True)
    m = re.search(r"nginx/(\S+)", r.stderr + r.stdout)
    return m.group(1) if m else "?"


ARGS = None


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--atrium", required=True)
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--prefect", required=True)
    ap.add_argument("backends", nargs="*")
    a = ARGS = ap.parse_args()
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    global NICE
    try:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)
    except PermissionError:
        NICE = os.getpriority(os.PRIO_PROCESS, 0)
        log(f"running at nice {NICE} (GATEWAY_NICE needs root)")
    command = " ".join(
        [f"{k}={shlex.quote(os.environ[k])}" for k in sorted(os.environ)
         if k.startswith("GATEWAY_") and k != "GATEWAY_PIDS_FILE"]
        + ([f"ATRIUM_BENCH_POSTGRES_URL={shlex.quote(redact(PG_ADMIN))}"]
           if "ATRIUM_BENCH_POSTGRES_URL" in os.environ else [])
        + ["bench/gateway", *a.backends])
    log(f"command: {command}")
    all_ok = True
    try:
        for b in a.backends or ["sqlite", "postgres"]:
            if b not in ("sqlite", "postgres"):
                sys.exit(f"gateway: unknown backend {b}")
            if b == "postgres":
                try:
                    psql("SELECT 1")
                except (RuntimeError, FileNotFoundError):
                    log(f"PostgreSQL at {redact(PG_ADMIN)} does not answer: skipping it")
                    continue
            md, ok = run_backend(b, a, command)
            print(md, flush=True)
            all_ok &= ok
    finally:
        PROCS.stop_all()
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
