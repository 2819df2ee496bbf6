"""libcurl transfers under the preload: the curl tool and a libcurl
program (tests/helpers/curl_multi_app.c) against an uninstrumented HTTP
server inside the test runner, which records the headers it received.

Each transfer must be exactly one Exit span (componentId 8002; the socket
hooks stay quiet under libcurl) and carry an sw8 header naming that span,
added without touching the application's own header list."""
import base64
import os
import subprocess
import threading
import http.server

import pytest

from conftest import BUILD_DIR, free_port, spans_of, sw_env, tags, wait_until

CURL_COMPONENT = 8002
APP = os.path.join(BUILD_DIR, "curl_multi_app")


class Upstream:
    """A threaded HTTP/1.1 server that records every request's headers.

    /status/N answers N; /slow/... answers once `parties` such requests
    are waiting at the same time (a barrier), which proves they were in
    flight together; anything else answers 200."""

    def __init__(self, parties=1):
        self.requests = []
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(parties)
        self.barrier_broken = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with outer.lock:
                    outer.requests.append({
                        "path": self.path,
                        "sw8": self.headers.get_all("sw8") or [],
                        "x-app": self.headers.get_all("X-App") or [],
                    })
                status = 200
                if self.path.startswith("/status/"):
                    status = int(self.path.split("/")[2].split("?")[0])
                elif self.path.startswith("/slow/"):
                    try:
                        outer.barrier.wait(timeout=60)
                    except threading.BrokenBarrierError:
                        outer.barrier_broken = True
                body = b"hello\n"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def upstream():
    u = Upstream()
    yield u
    u.close()


def decode_sw8(value):
    parts = value.split("-")
    assert len(parts) == 8, value
    b = lambda s: base64.b64decode(s, validate=True).decode()
    return {"sample": parts[0], "trace": b(parts[1]), "segment": b(parts[2]),
            "span": int(parts[3]), "service": b(parts[4]),
            "instance": b(parts[5]), "endpoint": b(parts[6]),
            "peer": b(parts[7])}


def exits(collector, service, n):
    wait_until(lambda: len(spans_of(collector, "Exit", service)) >= n,
               timeout=60, what="%d exit spans" % n)
    return spans_of(collector, "Exit", service)


def run(cmd, env):
    return subprocess.run(cmd, env=env, capture_output=True, timeout=120)


def check_span(seg, sp, port, op, status=200):
    assert sp["componentId"] == CURL_COMPONENT
    assert sp["spanLayer"] == "Http"
    assert sp["spanType"] == "Exit"
    assert sp["peer"] == "127.0.0.1:%d" % port
    assert sp["operationName"] == op
    assert sp.get("spanId", 0) == 0 and sp["parentSpanId"] == -1
    t = tags(sp)
    assert t["http.method"] == "GET"
    assert t["http.status_code"] == str(status)
    assert int(sp["endTime"]) >= int(sp["startTime"]) > 1600000000000


def check_sw8(value, seg, sp, service, port):
    d = decode_sw8(value)
    assert d["sample"] == "1"
    assert d["trace"] == seg["traceId"]
    assert d["segment"] == seg["traceSegmentId"]
    assert d["span"] == sp.get("spanId", 0)
    assert d["service"] == service
    assert d["instance"] == seg["serviceInstance"]
    assert d["peer"] == "127.0.0.1:%d" % port
    # No entry span in this process: the exit names itself.
    assert d["endpoint"] == sp["operationName"]


def test_curl_tool_one_exit_span_and_sw8(collector, upstream):
    r = run(["curl", "-s", "-o", "/dev/null",
             upstream.url("/path?q=1")], sw_env(collector, "curlcli"))
    assert r.returncode == 0, r.stderr
    spans = exits(collector, "curlcli", 1)
    # One span only: the socket hooks did not trace libcurl's connection.
    assert len(spans) == 1
    assert spans_of(collector, "Entry", "curlcli") == []
    seg, sp = spans[0]
    check_span(seg, sp, upstream.port, "/path")
    assert tags(sp)["http.url"] == upstream.url("/path?q=1")
    assert sp.get("isError", False) is False
    assert len(upstream.requests) == 1
    req = upstream.requests[0]
    assert req["path"] == "/path?q=1"
    assert len(req["sw8"]) == 1
    check_sw8(req["sw8"][0], seg, sp, "curlcli", upstream.port)


def test_curl_tool_userinfo_is_not_reported(collector, upstream):
    url = "http://user:secret@127.0.0.1:%d/p" % upstream.port
    r = run(["curl", "-s", "-o", "/dev/null", url],
            sw_env(collector, "curlcli"))
    assert r.returncode == 0, r.stderr
    seg, sp = exits(collector, "curlcli", 1)[0]
    check_span(seg, sp, upstream.port, "/p")
    assert tags(sp)["http.url"] == upstream.url("/p")
    with open(collector.out_path, encoding="utf-8") as f:
        assert "secret" not in f.read()
    d = decode_sw8(upstream.requests[0]["sw8"][0])
    assert "secret" not in repr(d)


def test_curl_tool_connection_refused(collector):
    port = free_port()  # nothing listens here
    r = run(["curl", "-s", "http://127.0.0.1:%d/x" % port],
            sw_env(collector, "curlcli"))
    assert r.returncode == 7  # CURLE_COULDNT_CONNECT, unchanged
    spans = exits(collector, "curlcli", 1)
    assert len(spans) == 1
    seg, sp = spans[0]
    assert sp["componentId"] == CURL_COMPONENT
    assert sp["peer"] == "127.0.0.1:%d" % port
    assert sp["operationName"] == "/x"
    assert sp["isError"] is True
    assert "http.status_code" not in tags(sp)
    logs = sp["logs"]
    assert len(logs) == 1
    kv = {d["key"]: d["value"] for d in logs[0]["data"]}
    assert kv["event"] == "error"
    assert "connect" in kv["message"].lower()


def test_curl_tool_500_is_error(collector, upstream):
    r = run(["curl", "-s", "-o", "/dev/null", upstream.url("/status/500")],
            sw_env(collector, "curlcli"))
    assert r.returncode == 0, r.stderr
    seg, sp = exits(collector, "curlcli", 1)[0]
    check_span(seg, sp, upstream.port, "/status/500", status=500)
    assert sp["isError"] is True
    assert "logs" not in sp


def test_inject_headers_off(collector, upstream):
    env = sw_env(collector, "curlcli", SW_AGENT_INJECT_HEADERS="false")
    r = run(["curl", "-s", "-o", "/dev/null", upstream.url("/a")], env)
    assert r.returncode == 0, r.stderr
    seg, sp = exits(collector, "curlcli", 1)[0]
    check_span(seg, sp, upstream.port, "/a")
    assert upstream.requests[0]["sw8"] == []


def test_ignored_path_not_traced_nor_injected(collector, upstream):
    env = sw_env(collector, "curlcli", SW_AGENT_TRACE_IGNORE_PATH="/health")
    r = run(["curl", "-s", "-o", "/dev/null", upstream.url("/health"),
             "-o", "/dev/null", upstream.url("/b")], env)
    assert r.returncode == 0, r.stderr
    spans = exits(collector, "curlcli", 1)
    assert [sp["operationName"] for _, sp in spans] == ["/b"]
    by_path = {q["path"]: q for q in upstream.requests}
    assert by_path["/health"]["sw8"] == []
    assert len(by_path["/b"]["sw8"]) == 1


def test_multi_five_in_flight(collector):
    n = 5
    up = Upstream(parties=n)
    try:
        urls = [up.url("/slow/%d?k=%d" % (i, i)) for i in range(n)]
        r = run([APP] + urls, sw_env(collector, "multiapp"))
        # The app checked that its header lists are untouched.
        assert r.returncode == 0, r.stderr
        assert not up.barrier_broken, "transfers were not in flight together"
        lines = r.stdout.decode().split()
        assert lines == [w for i in range(n) for w in (str(i), "0", "200")]
        spans = exits(collector, "multiapp", n)
        assert len(spans) == n
        assert len(up.requests) == n
        by_seg = {seg["traceSegmentId"]: (seg, sp) for seg, sp in spans}
        assert len(by_seg) == n
        seen = set()
        for q in up.requests:
            assert q["x-app"] == ["1"]
            assert len(q["sw8"]) == 1
            d = decode_sw8(q["sw8"][0])
            seg, sp = by_seg[d["segment"]]
            check_span(seg, sp, up.port, q["path"].split("?")[0])
            assert tags(sp)["http.url"] == up.url(q["path"])
            check_sw8(q["sw8"][0], seg, sp, "multiapp", up.port)
            seen.add(d["segment"])
        assert len(seen) == n
    finally:
        up.close()


def test_multi_app_own_sw8_is_kept(collector, upstream):
    theirs = "1-dA==-cw==-3-c3Zj-aW5zdA==-L2U=-aDo4MA=="
    urls = [upstream.url("/own/%d" % i) for i in range(2)]
    r = run([APP, "--app-sw8", theirs] + urls, sw_env(collector, "multiapp"))
    assert r.returncode == 0, r.stderr
    spans = exits(collector, "multiapp", 2)
    assert len(spans) == 2
    assert len(upstream.requests) == 2
    for q in upstream.requests:
        assert q["sw8"] == [theirs]
        assert q["x-app"] == ["1"]


@pytest.mark.parametrize("mode", ["--easy", "--dup"])
def test_easy_perform_reused_and_duplicated_handle(collector, upstream, mode):
    urls = [upstream.url("/e/%d" % i) for i in range(3)]
    r = run([APP, mode] + urls, sw_env(collector, "easyapp"))
    assert r.returncode == 0, r.stderr
    spans = exits(collector, "easyapp", 3)
    assert len(spans) == 3
    by_seg = {seg["traceSegmentId"]: (seg, sp) for seg, sp in spans}
    assert len(upstream.requests) == 3
    for q in upstream.requests:
        assert q["x-app"] == ["1"]
        assert len(q["sw8"]) == 1
        d = decode_sw8(q["sw8"][0])
        seg, sp = by_seg[d["segment"]]
        assert sp["operationName"] == q["path"]
        check_sw8(q["sw8"][0], seg, sp, "easyapp", upstream.port)


def test_multi_failed_transfer_has_error_text(collector, upstream):
    port = free_port()  # nothing listens here
    urls = [upstream.url("/ok"), "http://127.0.0.1:%d/down" % port]
    r = run([APP] + urls, sw_env(collector, "multiapp"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == ["0", "0", "200", "1", "7", "0"]
    spans = exits(collector, "multiapp", 2)
    by_op = {sp["operationName"]: sp for _, sp in spans}
    assert by_op["/ok"].get("isError", False) is False
    down = by_op["/down"]
    assert down["isError"] is True
    kv = {d["key"]: d["value"] for d in down["logs"][0]["data"]}
    assert "connect" in kv["message"].lower()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def test_exit_joins_the_entry_being_served(collector, upstream, procs):
    """A server that calls libcurl while serving: the exit is a child of
    the entry (same segment), and the upstream's sw8 names it."""
    app = procs.start([os.path.join(BUILD_DIR, "curl_easy_app"),
                       upstream.url(""), "2"],
                      env=sw_env(collector, "srvapp"),
                      stdout=subprocess.PIPE)
    port = int(app.stdout.readline())
    caller_trace = "c0ffee" * 5 + "00"
    theirs = "-".join(["1", b64(caller_trace), b64("s" * 32), "3",
                       b64("caller"), b64("inst"), b64("/c"),
                       b64("127.0.0.1:%d" % port)])
    import http.client
    for path, hdrs in (("/in/0", {"sw8": theirs}), ("/in/1", {})):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", path, headers=hdrs)
        assert conn.getresponse().status == 200
        conn.close()
    assert app.wait(60) == 0
    wait_until(lambda: len(collector.segments()) >= 2, timeout=60,
               what="2 segments")
    segs = {s["spans"][0]["operationName"]: s for s in collector.segments()
            if s.get("service") == "srvapp"}
    by_path = {q["path"]: q for q in upstream.requests}
    for path in ("/in/0", "/in/1"):
        seg = segs[path]
        spans = {sp.get("spanId", 0): sp for sp in seg["spans"]}
        assert sorted(spans) == [0, 1]
        assert spans[0].get("spanType", "Entry") == "Entry"
        ex = spans[1]
        assert ex["spanType"] == "Exit" and ex.get("parentSpanId", 0) == 0
        assert ex["componentId"] == CURL_COMPONENT
        assert ex["operationName"] == path
        d = decode_sw8(by_path[path]["sw8"][0])
        assert d["trace"] == seg["traceId"]
        assert d["segment"] == seg["traceSegmentId"]
        assert d["span"] == 1
        assert d["endpoint"] == path  # the entry's operation name
        assert d["service"] == "srvapp"
        assert d["peer"] == "127.0.0.1:%d" % upstream.port
    # The caller's trace id was adopted and passed on.
    assert segs["/in/0"]["traceId"] == caller_trace
    assert segs["/in/1"]["traceId"] != caller_trace


def git_http_helper():
    """git's HTTP helper, when git is installed."""
    import shutil
    git = shutil.which("git")
    if not git:
        return None
    r = subprocess.run([git, "--exec-path"], capture_output=True, text=True)
    path = os.path.join(r.stdout.strip(), "git-remote-http")
    return git if os.path.exists(path) else None


@pytest.mark.skipif(git_http_helper() is None, reason="git is not installed")
def test_program_with_another_libcurl_build(collector, upstream):
    """Debian's git helpers use libcurl-gnutls while the reporter uses
    libcurl: each caller must reach its own build, so the program is traced
    and the reporter still delivers."""
    env = sw_env(collector, "gitcli", SW_AGENT_LOGGING_LEVEL="debug",
                 SW_AGENT_FLUSH_TIMEOUT_MS="30000")
    r = run([git_http_helper(), "ls-remote", upstream.url("/repo.git")], env)
    # The upstream is no git server: git fails its own way, unharmed.
    assert r.returncode == 128, r.stderr
    assert b"not valid" in r.stderr or b"not found" in r.stderr, r.stderr
    spans = exits(collector, "gitcli", 1)
    seg, sp = spans[0]
    assert sp["componentId"] == CURL_COMPONENT
    assert sp["operationName"] == "/repo.git/info/refs"
    assert tags(sp)["http.status_code"] == "200"
    q = upstream.requests[0]
    check_sw8(q["sw8"][0], seg, sp, "gitcli", upstream.port)
    # The reporter's own libcurl calls reached its own build: the exit
    # flush logs its counters, with the segment acknowledged and no error.
    stats = [l for l in r.stderr.decode().splitlines() if "stats:" in l]
    assert stats, r.stderr
    assert "segments_sent=1 " in stats[-1], stats[-1]
    assert "backend_errors=0" in stats[-1], stats[-1]
