"""Entry spans from real servers under the preload: python3 http.server and
nginx (master + worker, static files), driven by an uninstrumented client.
Exit spans from real clients: python urllib and the curl tool."""
import os
import socket
import subprocess
import threading
import http.server

import pytest

from conftest import (PYTHON, entry_spans, free_port, http_requests,
                      nginx_bin, spans_of, sw_env, tags, wait_port,
                      wait_until)

N = 1000


def start_http_server(procs, collector, tmp_path, service="pyserver", **env):
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "index.txt").write_text("hello\n" * 10)
    (www / "health").write_text("ok\n")
    port = free_port()
    p = procs.start([PYTHON, "-m", "http.server", "--bind", "127.0.0.1",
                     "--directory", str(www), str(port)],
                    env=sw_env(collector, service, **env))
    wait_port(port, p)
    return p, port


def check_entry(seg, sp, service, op, status, method="GET"):
    assert seg["service"] == service
    assert len(seg["traceId"]) == 32 and len(seg["traceSegmentId"]) == 32
    assert sp.get("spanId", 0) == 0
    assert sp["parentSpanId"] == -1
    assert sp.get("spanType", "Entry") == "Entry"
    assert sp["spanLayer"] == "Http"
    assert sp["componentId"] == 49
    assert sp["operationName"] == op
    assert sp["peer"].startswith("127.0.0.1:")
    t = tags(sp)
    assert t["http.method"] == method
    assert t["http.status_code"] == str(status)
    assert t["http.url"].startswith("http://127.0.0.1:")
    assert t["http.url"].split("?")[0].endswith(op)
    assert int(sp["endTime"]) >= int(sp["startTime"]) > 1600000000000
    assert sp.get("isError", False) == (status >= 500)


def test_python_http_server_serves_1000_traced_requests(procs, collector,
                                                         tmp_path):
    p, port = start_http_server(procs, collector, tmp_path)
    statuses = http_requests(port, ["/index.txt?n=%d" % i for i in range(N)])
    assert statuses == [200] * N
    wait_until(lambda: len(entry_spans(collector)) >= N, timeout=120,
               what="%d entry spans" % N)
    spans = entry_spans(collector)
    assert len(spans) == N
    for seg, sp in spans:
        check_entry(seg, sp, "pyserver", "/index.txt", 200)
        assert "?n=" in tags(sp)["http.url"]
    # Every request is its own trace and segment.
    assert len({seg["traceSegmentId"] for seg, _ in spans}) == N
    assert len({seg["traceId"] for seg, _ in spans}) == N
    inst = spans[0][0]["serviceInstance"]
    assert inst == "%d@%s" % (p.pid, socket.gethostname())
    # The instance registered itself and keeps alive.
    wait_until(lambda: collector.properties(), what="instance properties")
    props = collector.properties()[0]
    assert props["serviceInstance"] == inst
    kv = {x["key"]: x["value"] for x in props["properties"]}
    assert kv["Process No."] == str(p.pid)
    assert kv["agent"] == "swpreload"
    wait_until(lambda: collector.keepalives(), what="keepAlive")
    assert p.poll() is None


def test_status_404_and_error_status(procs, collector, tmp_path):
    p, port = start_http_server(procs, collector, tmp_path)
    assert http_requests(port, ["/missing"]) == [404]
    assert http_requests(port, ["/index.txt"], method="BREW") == [501]
    wait_until(lambda: len(entry_spans(collector)) >= 2, what="2 spans")
    by_op = {sp["operationName"]: (seg, sp) for seg, sp in entry_spans(collector)}
    check_entry(*by_op["/missing"], "pyserver", "/missing", 404)
    check_entry(*by_op["/index.txt"], "pyserver", "/index.txt", 501,
                method="BREW")


def test_ignore_path_suffix_and_method(procs, collector, tmp_path):
    p, port = start_http_server(
        procs, collector, tmp_path,
        SW_AGENT_TRACE_IGNORE_PATH="/health, /static/**",
        SW_PLUGIN_HTTP_IGNORE_METHOD="head,options")
    http_requests(port, ["/health"] * 5)
    http_requests(port, ["/static/a/b.txt", "/static/"])
    http_requests(port, ["/logo.png", "/app.js"])  # default suffix list
    http_requests(port, ["/index.txt"] * 3, method="HEAD")
    http_requests(port, ["/index.txt"], method="OPTIONS")
    http_requests(port, ["/healthz", "/static", "/index.txt"])
    wait_until(lambda: len(entry_spans(collector)) >= 3, what="3 spans")
    # The ignored requests were all answered before the traced ones; give
    # the reporter one more batch period to show anything unexpected.
    import time
    time.sleep(1.5)
    ops = sorted(sp["operationName"] for _, sp in entry_spans(collector))
    assert ops == ["/healthz", "/index.txt", "/static"]


NGINX_CONF = """
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile {sendfile};
  keepalive_requests 100000;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {tmp}/www;
    location = /fail {{ return 503; }}
  }}
}}
"""


def start_nginx(procs, collector, tmp_path, sendfile="on", service="nginx"):
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "file.txt").write_bytes(b"x" * 1024)
    port = free_port()
    conf = tmp_path / "nginx.conf"
    # As root, workers would switch to "nobody", who cannot read the
    # test's private temporary directory.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_CONF.format(tmp=tmp_path, port=port, user=user,
                                      sendfile=sendfile))
    p = procs.start([nginx_bin(), "-c", str(conf), "-p", str(tmp_path)],
                    env=sw_env(collector, service))
    wait_port(port, p)
    return p, port


@pytest.mark.parametrize("sendfile", ["on", "off"])
def test_nginx_master_worker_static_files(procs, collector, tmp_path,
                                          sendfile):
    p, port = start_nginx(procs, collector, tmp_path, sendfile)
    statuses = http_requests(port, ["/file.txt?i=%d" % i for i in range(N)])
    assert statuses == [200] * N
    assert http_requests(port, ["/fail"]) == [503]
    wait_until(lambda: len(entry_spans(collector)) >= N + 1, timeout=120,
               what="%d entry spans" % (N + 1))
    spans = entry_spans(collector)
    assert len(spans) == N + 1
    ok = [(s, sp) for s, sp in spans if sp["operationName"] == "/file.txt"]
    assert len(ok) == N
    for seg, sp in ok:
        check_entry(seg, sp, "nginx", "/file.txt", 200)
    fail = [(s, sp) for s, sp in spans if sp["operationName"] == "/fail"]
    check_entry(*fail[0], "nginx", "/fail", 503)
    assert fail[0][1]["isError"] is True
    # Served by the worker: its pid, not the master's, names the instance.
    inst = {seg["serviceInstance"] for seg, _ in spans}
    assert len(inst) == 1
    assert not inst.pop().startswith("%d@" % p.pid)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


@pytest.fixture
def plain_server(tmp_path):
    """An uninstrumented HTTP/1.1 server inside the test runner."""
    (tmp_path / "x").write_text("payload\n")
    handler = lambda *a, **kw: _Quiet(*a, directory=str(tmp_path), **kw)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_urllib_client_exit_spans(collector, plain_server, tmp_path):
    code = ("import urllib.request, urllib.error\n"
            "for i in range(5):\n"
            "    urllib.request.urlopen('http://127.0.0.1:%d/x?q=%%d' %% i).read()\n"
            "try:\n"
            "    urllib.request.urlopen('http://127.0.0.1:%d/nope')\n"
            "except urllib.error.HTTPError as e:\n"
            "    assert e.code == 404\n") % (plain_server, plain_server)
    # A short-lived client: its spans must be flushed before it exits.
    r = subprocess.run([PYTHON, "-c", code], env=sw_env(collector, "pyclient"),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    exits = spans_of(collector, "Exit", "pyclient")
    assert len(exits) == 6
    for seg, sp in exits:
        assert sp["componentId"] == 2
        assert sp["spanLayer"] == "Http"
        assert sp["peer"] == "127.0.0.1:%d" % plain_server
        assert sp.get("spanId", 0) == 0 and sp["parentSpanId"] == -1
        t = tags(sp)
        assert t["http.method"] == "GET"
    ok = [sp for _, sp in exits if sp["operationName"] == "/x"]
    assert len(ok) == 5
    assert sorted(tags(sp)["http.url"] for sp in ok) == [
        "http://127.0.0.1:%d/x?q=%d" % (plain_server, i) for i in range(5)]
    assert all(tags(sp)["http.status_code"] == "200" for sp in ok)
    nope = [sp for _, sp in exits if sp["operationName"] == "/nope"][0]
    assert tags(nope)["http.status_code"] == "404"
    assert nope.get("isError", False) is False


def test_curl_tool_short_lived_client(collector, plain_server):
    r = subprocess.run(["curl", "-sf", "-o", "/dev/null",
                        "http://127.0.0.1:%d/x" % plain_server],
                       env=sw_env(collector, "curlcli"), capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    exits = spans_of(collector, "Exit", "curlcli")
    assert len(exits) == 1
    sp = exits[0][1]
    assert sp["operationName"] == "/x"
    assert tags(sp)["http.status_code"] == "200"
    assert sp["peer"] == "127.0.0.1:%d" % plain_server


def test_backend_absent_app_unharmed(procs, tmp_path):
    """No collector at all: the server works and exits promptly."""
    port0 = free_port()  # nothing listens here
    env = sw_env(None, "lonely",
                 SW_AGENT_COLLECTOR_BACKEND_SERVICES="127.0.0.1:%d" % port0,
                 SW_AGENT_FLUSH_TIMEOUT_MS="500")
    code = ("import urllib.request\n"
            "import http.server, threading\n"
            "s = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
            "threading.Thread(target=s.handle_request).start()\n"
            "urllib.request.urlopen('http://127.0.0.1:%d/' % s.server_port).read()\n")
    r = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True,
                       timeout=60, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
