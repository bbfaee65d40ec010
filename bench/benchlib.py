"""What bench/gateway.py and bench/managed.py share: free ports, a redacted database URL,
psql, one HTTP call, waiting for a process to answer, and a cookie-and-CSRF "browser" that
goes through Atrium's real forms. Standard library only."""

import http.client
import os
import re
import socket
import subprocess
import time
import urllib.parse


def redact(url):
    """The URL with its password replaced by ***."""
    u = urllib.parse.urlparse(url)
    if u.password is None:
        return url
    netloc = f"{u.username}:***@{u.hostname}" + (f":{u.port}" if u.port else "")
    return urllib.parse.urlunparse(u._replace(netloc=netloc))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(url, sql, check=True):
    """One statement through psql at `url`; its output, trimmed."""
    r = subprocess.run(["psql", url, "-qAtc", sql], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"psql: {sql}: {r.stderr.strip()}")
    return r.stdout.strip()


class Browser:
    """One keep-alive connection to Atrium with a cookie and the last CSRF token seen."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = None
        self.token = None

    def request(self, method, path, form=None):
        hs = {}
        if self.cookie:
            hs["Cookie"] = f"atrium_session={self.cookie}"
        body = None
        if form is not None:
            form = dict(form)
            form.setdefault("csrf_token", self.token or "")
            hs["Content-Type"] = "application/x-www-form-urlencoded"
            hs["Origin"] = f"http://127.0.0.1:{self.port}"
            body = urllib.parse.urlencode(form)
        self.c.request(method, path, body=body, headers=hs)
        r = self.c.getresponse()
        text = r.read().decode("utf-8", "replace")
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("atrium_session="):
                self.cookie = v.split(";", 1)[0].split("=", 1)[1]
        m = re.search(r'name="csrf_token" value="([^"]+)"', text)
        if m:
            self.token = m.group(1)
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), text


def call(port, method, path, headers=None, body=None, timeout=60):
    """One request on a connection of its own: (status, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_for(what, check, proc=None, logfile=None, timeout=120):
    """Until `check()` is true (an OSError counts as not yet); fails with the tail of
    `logfile` when `proc` ends or the time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.25)
    tail = ""
    if logfile and os.path.exists(logfile):
        with open(logfile, errors="replace") as f:
            tail = f.read()[-3000:]
    raise RuntimeError(f"{what} did not start\n{tail}")
