#!/usr/bin/env python3
"""The members panel opened by the Member in 50 teams and by the one in none, at 64
connections, alternating, three 2-s runs each, against the SQLite database `bench/run`
seeded (`bench/work/sqlite`) with the release build it made. Written to look into one
64-connection figure of `bench/run` (1,402 against 923 µs per request, in 1-s runs) that
the 16-connection rounds did not show: run it after `bench/run sqlite`.

    python3 bench/teams-pair.py
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as b
work, env = b.backend_env("sqlite")
seed = dict(l.strip().split("=",1) for l in open(os.path.join(work,"seed.env")) if "=" in l)
p = b.start([os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "atrium"),"serve"], env, os.path.join(work, "pair-atrium.log"))
try:
    b.wait_http(b.ATRIUM_PORT, "/healthz")
    t = b.login(seed["BIG_TEAMED"], seed["PASSWORD"])[0]
    n = b.login(seed["BIG_TEAMLESS"], seed["PASSWORD"])[0]
    url = f"http://127.0.0.1:{b.ATRIUM_PORT}/account/{seed['BIG_ACCOUNT']}/workspace/{seed['BIG_WORKSPACE']}/settings/members"
    meter = b.Meter(p.pid, False)
    for i in range(3):
        for name, s in (("teamed", t), ("teamless", n)):
            before = meter.sample()
            r = b.wrk(url, 64, 2, {"Cookie": f"atrium_session={s}"})
            after = meter.sample()
            cpu = b.Meter.delta(before, after)
            srv, _ = b.Meter.delta(before, after)
            print(name, "c=64", "rps", r["rps"], "cpu/req us", round(srv / r["requests"] * 1e6), "p99 ms", round(r["p99"]*1000,1), "non2xx", r["non2xx"], flush=True)
finally:
    b.stop(p)
