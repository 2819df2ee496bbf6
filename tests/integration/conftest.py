"""Shared fixtures for the integration tests.

Every test runs real programs (python3 http.server, nginx, curl, node...)
with LD_PRELOAD set only in the child's environment, against the project's
own collector (scripts/sw_collector.py) on a free port, and asserts on what
the collector decoded. Nothing here preloads the test runner itself.
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from swtest_collector import Collector  # noqa: E402

SOURCE_DIR = os.environ.get("SW_TEST_SOURCE_DIR",
                            os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD_DIR = os.environ.get("SW_TEST_BUILD_DIR",
                           os.path.join(SOURCE_DIR, "build"))
PRELOAD = os.environ.get("SW_TEST_PRELOAD",
                         os.path.join(BUILD_DIR, "libswpreload.so"))
PYTHON = "/usr/bin/python3"

# The start of a python script whose socketserver-based server a test
# stops with SIGINT and expects to exit cleanly (status 0, through its
# exit handlers, so through the agent's exit flush). SIGINT stops every
# server's serve_forever() from another thread instead of raising
# KeyboardInterrupt: an exception raised while the main thread happens to
# run a weakref callback or a __del__ is printed and dropped by Python
# ("Exception ignored in"), and the server would keep running. The
# handler is installed first thing, also for a test run with SIGINT
# ignored (a background job of a shell without job control, which python
# would otherwise leave ignored), and a server that starts serving after
# the signal returns at once.
PY_SIGINT_STOPS_SERVERS = r'''
import signal, socketserver, threading
_servers, _stopping = [], []
def _stop(*_):
    _stopping.append(1)
    for s in list(_servers):
        threading.Thread(target=s.shutdown, daemon=True).start()
signal.signal(signal.SIGINT, _stop)
_serve_forever = socketserver.BaseServer.serve_forever
def _serve(self, *a, **k):
    _servers.append(self)
    if not _stopping:
        _serve_forever(self, *a, **k)
socketserver.BaseServer.serve_forever = _serve
'''

# python3 -m http.server [args] that SIGINT stops cleanly (above).
PY_HTTP_SERVER = PY_SIGINT_STOPS_SERVERS + '''
import runpy, sys
sys.argv[0] = "http.server"
runpy.run_module("http.server", run_name="__main__", alter_sys=True)
'''


def free_port():
    """A port that was free a moment ago (bind 0, read, close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=30.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def wait_port(port, proc=None, timeout=30.0):
    def up():
        if proc is not None and proc.poll() is not None:
            raise AssertionError("process exited early with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    wait_until(up, timeout, what="port %d" % port)


def sw_env(collector, service, **extra):
    """Environment for a traced child: preload + collector address."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("SW_AGENT_") or k.startswith("SW_PLUGIN_"):
            del env[k]
    env["LD_PRELOAD"] = PRELOAD
    env["SW_AGENT_NAME"] = service
    if collector is not None:
        env["SW_AGENT_COLLECTOR_BACKEND_SERVICES"] = "127.0.0.1:%d" % collector.port
    env["SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD"] = "1"
    for k, v in extra.items():
        env[k] = str(v)
    return env


class Procs:
    """Processes started by a test; all killed (by PID) at teardown."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, env=None, **kw):
        """Starts cmd in its own session. Its stderr goes to a file (never
        an unread pipe, which would block a chatty server); p.stderr_text()
        reads it."""
        log = tempfile.NamedTemporaryFile(prefix="proc-", suffix=".log",
                                          delete=False)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", log)
        p = subprocess.Popen(cmd, env=env, start_new_session=True, **kw)
        log.close()
        p.log_path = log.name
        p.stderr_text = lambda: open(log.name, errors="replace").read()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return p.returncode

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
            try:
                os.unlink(p.log_path)
            except (AttributeError, OSError):
                pass


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.cleanup()


@pytest.fixture
def collector(tmp_path):
    d = tmp_path / "collector"
    d.mkdir()
    c = Collector(str(d))
    c.start()
    yield c
    c.stop()


def http_requests(port, paths, method="GET", headers=None, host="127.0.0.1"):
    """Sends requests on one keep-alive connection (uninstrumented client:
    the test runner is never preloaded). Returns the statuses."""
    statuses = []
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for path in paths:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        r.read()
        statuses.append(r.status)
        if r.will_close:
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.close()
    return statuses


def entry_spans(collector, service=None):
    """All (segment, span) pairs of entry spans received so far."""
    out = []
    for seg in collector.segments():
        if service and seg.get("service") != service:
            continue
        for sp in seg.get("spans", []):
            if sp.get("spanType", "Entry") == "Entry":
                out.append((seg, sp))
    return out


def spans_of(collector, kind, service=None):
    out = []
    for seg in collector.segments():
        if service and seg.get("service") != service:
            continue
        for sp in seg.get("spans", []):
            if sp.get("spanType", "Entry") == kind:
                out.append((seg, sp))
    return out


def tags(span):
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def nginx_bin():
    return shutil.which("nginx") or "/usr/sbin/nginx"
