"""Hardening: secrets never reach the backend, hostile configuration, and
the ASan-built preload inside a real program.

Secrets: requests carrying Authorization, Cookie and Proxy-Authorization
headers, answered with Set-Cookie, are served by a preloaded Python server
(entry spans) and made by preloaded Python clients (exit spans). None of
those values may appear anywhere in what the collector received: the raw
JSON lines are searched for them, whatever field they might hide in.
URL userinfo (http://user:secret@host/) never reaches a tag, an operation
name or a peer, whether it comes as an absolute-form request line (to a
proxy), from urllib through a proxy, or from a Host header, and however
long it is (longer than the parser's and the span's fields, no piece of
it may be recorded). SW_AGENT_LOG_REPORTER_SAFE_MODE=true also scrubs
"://user:pass@" from text such as a query string, and leaves the host and
path of the URL alone; SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD
cuts the query kept in http.url, and the url field itself holds at most
287 bytes (SW_URL_MAX - 1, preload/sw_span.h) whatever the threshold.

Hostile configuration: every SW_* variable the agent reads is given the
same piece of garbage (empty, white space, negative, non-numeric, an
unmatched glob bracket, a huge value); the preloaded python http.server
must still start and serve, print exactly one warning per malformed
variable (naming it and the default used), none for values that are
acceptable for that variable (an empty value means unset; any text is a
valid service name or list item), and still report its spans. A single
environment string cannot exceed 128 KiB (the kernel's MAX_ARG_STRLEN)
and all of them together about 2 MB, so huge values are 100 000 bytes,
a few variables at a time; the unit tests cover 1 MB values.

ASan: test_asan_preload_* (python3 server and client, nginx) run only
when SW_TEST_ASAN_PRELOAD names an ASan-built libswpreload.so
(scripts/sanitizers.sh asan-preload sets it): the uninstrumented programs
get the ASan runtime first in LD_PRELOAD.
"""
import base64
import json
import os
import re
import signal
import socket
import subprocess

import pytest

from conftest import (PRELOAD, PY_HTTP_SERVER, PY_SIGINT_STOPS_SERVERS,
                      PYTHON, entry_spans, free_port, http_requests,
                      nginx_bin, spans_of, sw_env, tags, wait_port,
                      wait_until)

# Cap of every wait for the collector (generous: the machine may be busy).
WAIT = 90

# Values that must never be recorded. Distinctive, so that a hit is never
# a coincidence.
SECRETS = {
    "authorization": "Bearer hz-authz-7f3a9c1e",
    "cookie": "sid=hz-cookie-51d0b2aa; theme=hz-cookie-2",
    "set_cookie": "hz-setcookie-c0ffee42",
    "proxy_authorization": "Basic aHotcHJveHktdXNlcjpoei1wcm94eS1wdw==",
    "user": "hz-user-9e1d",
    "password": "hz-pass-44b7",
    "proxy_user": "hz-puser-1a2b",
    "proxy_password": "hz-ppass-3c4d",
}

# A threaded HTTP/1.1 server that answers every GET (origin or absolute
# form) with a Set-Cookie header, as an application or a proxy would.
SERVER = PY_SIGINT_STOPS_SERVERS + r'''
import http.server, sys
SETCOOKIE = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Set-Cookie", "sid=" + SETCOOKIE + "; HttpOnly")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
srv.serve_forever()
'''

# A urllib client: argv[1] is a JSON list of [url, headers, proxy].
# Userinfo in a URL is turned into an Authorization: Basic header, as
# HTTP clients do (urllib itself would try to resolve "user:pw@host").
CLIENT = r'''
import base64, json, sys, urllib.parse, urllib.request
for url, headers, proxy in json.loads(sys.argv[1]):
    u = urllib.parse.urlsplit(url)
    if u.username is not None:
        token = base64.b64encode(("%s:%s" % (u.username, u.password)).encode())
        headers["Authorization"] = "Basic " + token.decode()
        netloc = u.hostname + (":%d" % u.port if u.port else "")
        url = urllib.parse.urlunsplit(u._replace(netloc=netloc))
    handlers = [urllib.request.ProxyHandler({"http": proxy} if proxy else {})]
    opener = urllib.request.build_opener(*handlers)
    with opener.open(urllib.request.Request(url, headers=headers),
                     timeout=30) as r:
        r.read()
        assert r.status == 200, r.status
'''


# Sends each request head of argv[2] (JSON) on its own connection to
# 127.0.0.1:argv[1] and reads the response to the end.
RAW_CLIENT = r'''
import json, socket, sys
port = int(sys.argv[1])
for h in json.loads(sys.argv[2]):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(h.encode())
    while s.recv(4096):
        pass
    s.close()
'''


def basic(user, password):
    return base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def forbidden_strings():
    """Every secret, its pieces, and the Basic tokens derived from them."""
    out = set()
    for v in SECRETS.values():
        out.add(v)
    for k in ("authorization", "proxy_authorization"):
        out.add(SECRETS[k].split(" ", 1)[1])
    for c in SECRETS["cookie"].split(";"):
        out.add(c.strip().split("=", 1)[1])
    out.add(basic(SECRETS["user"], SECRETS["password"]))
    out.add(basic(SECRETS["proxy_user"], SECRETS["proxy_password"]))
    return sorted(out)


def raw_received(collector):
    with open(collector.out_path, encoding="utf-8") as f:
        return f.read()


def assert_no_secrets(collector):
    raw = raw_received(collector)
    assert raw, "the collector received nothing"
    leaked = [s for s in forbidden_strings() if s in raw]
    assert not leaked, "secrets reached the collector: %r" % leaked


def start_server(procs, tmp_path, collector, service, **env):
    script = tmp_path / "hz_server.py"
    script.write_text(SERVER)
    port = free_port()
    p = procs.start([PYTHON, str(script), str(port), SECRETS["set_cookie"]],
                    env=sw_env(collector, service, **env))
    wait_port(port, p)
    return p, port


def run_client(tmp_path, collector, service, requests, **env):
    script = tmp_path / "hz_client.py"
    script.write_text(CLIENT)
    r = subprocess.run([PYTHON, str(script), json.dumps(requests)],
                       env=sw_env(collector, service, **env),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def raw_request(port, head):
    """Sends one request head from this (unpreloaded) process and returns
    the response status."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def secret_headers():
    return {"Authorization": SECRETS["authorization"],
            "Cookie": SECRETS["cookie"],
            "Proxy-Authorization": SECRETS["proxy_authorization"]}


def no_userinfo(text):
    return "@" not in text and SECRETS["user"] not in text and \
        SECRETS["password"] not in text


# ------------------------------------------------------------------ secrets

def test_secret_headers_never_reported_entry(procs, collector, tmp_path):
    """Entry spans of requests with credentials, answered with Set-Cookie."""
    _, port = start_server(procs, tmp_path, collector, "hz-server")
    statuses = http_requests(port, ["/a", "/b?x=1", "/c"],
                             headers=secret_headers())
    assert statuses == [200, 200, 200]
    wait_until(lambda: len(entry_spans(collector, "hz-server")) >= 3,
               what="3 entry spans", timeout=WAIT)
    ops = sorted(sp["operationName"]
                 for _, sp in entry_spans(collector, "hz-server"))
    assert ops == ["/a", "/b", "/c"]
    assert_no_secrets(collector)


def test_secret_headers_never_reported_exit(procs, collector, tmp_path):
    """Exit spans of a preloaded urllib client sending credentials to a
    preloaded server, directly and through a proxy with userinfo (urllib
    sends Proxy-Authorization and an absolute-form request line then)."""
    _, port = start_server(procs, tmp_path, collector, "hz-server")
    _, proxy_port = start_server(procs, tmp_path, collector, "hz-proxy")
    proxy = "http://%s:%s@127.0.0.1:%d" % (
        SECRETS["proxy_user"], SECRETS["proxy_password"], proxy_port)
    target = "http://127.0.0.1:%d" % port
    run_client(tmp_path, collector, "hz-client", [
        [target + "/direct", secret_headers(), None],
        [target + "/proxied", secret_headers(), proxy],
    ])
    wait_until(lambda: len(spans_of(collector, "Exit", "hz-client")) >= 2,
               what="2 exit spans", timeout=WAIT)
    wait_until(lambda: len(entry_spans(collector, "hz-server")) >= 1 and
               len(entry_spans(collector, "hz-proxy")) >= 1,
               what="the server's and the proxy's entry spans",
               timeout=WAIT)
    exits = {sp["operationName"]: sp
             for _, sp in spans_of(collector, "Exit", "hz-client")}
    assert set(exits) == {"/direct", "/proxied"}
    # Through the proxy the request line is absolute-form: the span still
    # names the origin server, without the proxy's credentials.
    assert tags(exits["/proxied"])["http.url"] == target + "/proxied"
    assert exits["/proxied"]["peer"] == "127.0.0.1:%d" % port
    (_, psp), = entry_spans(collector, "hz-proxy")
    assert psp["operationName"] == "/proxied"
    assert tags(psp)["http.url"] == target + "/proxied"
    assert_no_secrets(collector)


def test_url_userinfo_from_urllib_never_reported(procs, collector, tmp_path):
    """http://user:secret@127.0.0.1:PORT/p: the client sends
    Authorization: Basic; neither it nor the userinfo is recorded."""
    _, port = start_server(procs, tmp_path, collector, "hz-server")
    url = "http://%s:%s@127.0.0.1:%d/p?q=1" % (
        SECRETS["user"], SECRETS["password"], port)
    run_client(tmp_path, collector, "hz-client", [[url, {}, None]])
    wait_until(lambda: spans_of(collector, "Exit", "hz-client") and
               entry_spans(collector, "hz-server"), what="exit and entry",
               timeout=WAIT)
    (_, ex), = spans_of(collector, "Exit", "hz-client")
    assert tags(ex)["http.url"] == "http://127.0.0.1:%d/p?q=1" % port
    assert ex["peer"] == "127.0.0.1:%d" % port
    assert_no_secrets(collector)


def test_absolute_form_userinfo_never_reported(procs, collector, tmp_path):
    """Raw absolute-form request lines with userinfo, and a Host header
    with userinfo, sent by a preloaded client to a preloaded proxy-like
    server and by this process to it: no span field holds the userinfo."""
    _, port = start_server(procs, tmp_path, collector, "hz-proxy")
    ui = "%s:%s@" % (SECRETS["user"], SECRETS["password"])
    heads = [
        "GET http://%s127.0.0.1:%d/abs?k=v HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        "Connection: close\r\n\r\n" % (ui, port, port),
        "GET http://%sorigin.example:8080/abs2 HTTP/1.1\r\n"
        "Host: origin.example:8080\r\nConnection: close\r\n\r\n" % ui,
        "GET /host HTTP/1.1\r\nHost: %s127.0.0.1:%d\r\n"
        "Connection: close\r\n\r\n" % (ui, port),
        # Only a user name, and an '@' inside the password.
        "GET http://%s@127.0.0.1:%d/abs3 HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n" % (SECRETS["user"], port),
        "GET http://%s:a@b@127.0.0.1:%d/abs4 HTTP/1.1\r\nHost: x\r\n"
        "Connection: close\r\n\r\n" % (SECRETS["user"], port),
    ]
    # Entry side: sent from here, uninstrumented.
    for h in heads:
        assert raw_request(port, h) == 200
    # Exit side: the same heads from a preloaded client.
    script = tmp_path / "hz_raw.py"
    script.write_text(RAW_CLIENT)
    r = subprocess.run([PYTHON, str(script), str(port), json.dumps(heads)],
                       env=sw_env(collector, "hz-raw"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    n = len(heads)
    wait_until(lambda: len(entry_spans(collector, "hz-proxy")) >= 2 * n and
               len(spans_of(collector, "Exit", "hz-raw")) >= n,
               what="%d entry and %d exit spans" % (2 * n, n), timeout=WAIT)
    recorded = entry_spans(collector, "hz-proxy") + \
        spans_of(collector, "Exit", "hz-raw")
    for _, sp in recorded:
        fields = [sp["operationName"], sp.get("peer", "")] + \
            [t["value"] for t in sp.get("tags", [])]
        for ref in sp.get("refs", []):
            fields += [ref.get("parentEndpoint", ""),
                       ref.get("networkAddressUsedAtPeer", "")]
        for f in fields:
            assert no_userinfo(f), (f, sp)
    exits = {sp["operationName"]: sp
             for _, sp in spans_of(collector, "Exit", "hz-raw")}
    assert exits["/abs"]["peer"] == "127.0.0.1:%d" % port
    assert tags(exits["/abs"])["http.url"] == \
        "http://127.0.0.1:%d/abs?k=v" % port
    assert exits["/abs2"]["peer"] == "origin.example:8080"
    assert tags(exits["/abs2"])["http.url"] == \
        "http://origin.example:8080/abs2"
    assert exits["/host"]["peer"] == "127.0.0.1:%d" % port
    assert tags(exits["/abs4"])["http.url"] == \
        "http://127.0.0.1:%d/abs4" % port
    assert_no_secrets(collector)


@pytest.mark.parametrize("pwlen", [40, 100, 300, 700])
def test_long_userinfo_never_reported(procs, collector, tmp_path, pwlen):
    """Userinfo longer than the fields it passes through (the parser keeps
    511 bytes of the target and 127 of the Host header, a span 95 of a
    peer): no part of the password may be recorded, however the value is
    cut."""
    _, port = start_server(procs, tmp_path, collector, "hz-long-ui")
    pw = "".join("%x" % (i % 16) for i in range(pwlen - 8)) + "PWSECRET"
    ui = "user:%s@" % pw
    heads = [
        "GET http://%s127.0.0.1:%d/abs HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
        "Connection: close\r\n\r\n" % (ui, port, port),
        "GET /host HTTP/1.1\r\nHost: %s127.0.0.1:%d\r\n"
        "Connection: close\r\n\r\n" % (ui, port),
    ]
    for h in heads:
        assert raw_request(port, h) == 200
    script = tmp_path / "hz_raw.py"
    script.write_text(RAW_CLIENT)
    r = subprocess.run([PYTHON, str(script), str(port), json.dumps(heads)],
                       env=sw_env(collector, "hz-raw"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: len(entry_spans(collector, "hz-long-ui")) >= 4 and
               len(spans_of(collector, "Exit", "hz-raw")) >= 2,
               what="4 entry and 2 exit spans", timeout=WAIT)
    raw = raw_received(collector)
    # Any 12 consecutive characters of the password would be a leak.
    leaks = sorted({pw[i:i + 12] for i in range(len(pw) - 11)
                    if pw[i:i + 12] in raw})
    assert not leaks, "password pieces recorded: %r" % leaks[:3]
    assert "user:" not in raw


# ---------------------------------------------------------- safe mode, query

REDIRECT = "/redirect?to=http://u:p@x/y&next=ftp://a:b@c"


@pytest.mark.parametrize("safe", ["true", "false"])
def test_safe_mode_scrubs_userinfo_in_text(procs, collector, tmp_path, safe):
    _, port = start_server(procs, tmp_path, collector, "hz-safe",
                           SW_AGENT_LOG_REPORTER_SAFE_MODE=safe)
    assert http_requests(port, [REDIRECT]) == [200]
    wait_until(lambda: entry_spans(collector, "hz-safe"), what="entry span",
               timeout=WAIT)
    (_, sp), = entry_spans(collector, "hz-safe")
    url = tags(sp)["http.url"]
    assert sp["operationName"] == "/redirect"
    if safe == "true":
        assert url == ("http://127.0.0.1:%d/redirect?to=http://x/y"
                       "&next=ftp://c" % port)
        assert "u:p@" not in raw_received(collector)
    else:
        # Off, the query is recorded as it came (like the Python agent).
        assert url == "http://127.0.0.1:%d%s" % (port, REDIRECT)


def test_params_length_threshold(procs, collector, tmp_path):
    _, port = start_server(procs, tmp_path, collector, "hz-q",
                           SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD=10)
    assert http_requests(port, ["/q?abcdefghijklmnopqrstuvwxyz", "/short?a=1",
                                "/exact?0123456789", "/none"]) == [200] * 4
    wait_until(lambda: len(entry_spans(collector, "hz-q")) >= 4,
               what="4 entry spans", timeout=WAIT)
    urls = {sp["operationName"]: tags(sp)["http.url"]
            for _, sp in entry_spans(collector, "hz-q")}
    base = "http://127.0.0.1:%d" % port
    assert urls == {"/q": base + "/q?abcdefghij",
                    "/short": base + "/short?a=1",
                    "/exact": base + "/exact?0123456789",
                    "/none": base + "/none"}


def test_url_field_limit_with_default_threshold(procs, collector, tmp_path):
    """The default threshold (1024) is above what the url field holds:
    http.url is cut at 287 bytes (SW_URL_MAX - 1)."""
    _, port = start_server(procs, tmp_path, collector, "hz-long")
    path = "/long?" + "".join("k%03d=v&" % i for i in range(120))
    assert http_requests(port, [path]) == [200]
    wait_until(lambda: entry_spans(collector, "hz-long"), what="entry span",
               timeout=WAIT)
    (_, sp), = entry_spans(collector, "hz-long")
    url = tags(sp)["http.url"]
    full = "http://127.0.0.1:%d%s" % (port, path)
    assert len(url) == 287
    assert full.startswith(url)


# ------------------------------------------------------------ hostile config

HUGE = 100000

# name: (kind, default as the warning names it). Kinds: bool, int (with
# the range it accepts), enum, backend, str (any text; only a value too
# long for its field is reported, and truncated), path (a value too long
# falls back to the default), list (only items too long are dropped).
VARIABLES = {
    "SW_AGENT_DISABLE": ("bool", "false"),
    "SW_AGENT_NAME": ("str", None),
    "SW_AGENT_NAMESPACE": ("str", None),
    "SW_AGENT_INSTANCE_NAME": ("str", None),
    "SW_AGENT_PROTOCOL": ("enum", "grpc"),
    "SW_AGENT_COLLECTOR_BACKEND_SERVICES": ("backend", "127.0.0.1:11800"),
    "SW_AGENT_FORCE_TLS": ("bool", "false"),
    "SW_AGENT_AUTHENTICATION": ("str", None),
    "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD": (("int", 1, 86400), "30"),
    "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR":
        (("int", 1, 10000), "10"),
    "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE": (("int", 16, 1048576), "4096"),
    "SW_AGENT_LOGGING_LEVEL": ("enum", "WARNING"),
    "SW_AGENT_FLUSH_TIMEOUT_MS": (("int", 0, 60000), "2000"),
    "SW_AGENT_QUEUE_TIMEOUT": (("int", 0, 60), "1"),
    "SW_AGENT_TRACE_IGNORE_PATH": ("list", None),
    "SW_AGENT_IGNORE_SUFFIX": ("list", None),
    "SW_PLUGIN_HTTP_IGNORE_METHOD": ("list", None),
    "SW_AGENT_INJECT_HEADERS": ("bool", "true"),
    "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD":
        (("int", -(2 ** 63), 2 ** 31 - 1), "1024"),
    "SW_AGENT_LOG_REPORTER_SAFE_MODE": ("bool", "false"),
    "SW_AGENT_FILE_PATH": ("path", "swpreload-segments.jsonl"),
    "SW_AGENT_EXCLUDE": ("list", None),
    "SW_AGENT_INCLUDE": ("list", None),
    "SW_KAFKA_BOOTSTRAP_SERVERS": ("path", "localhost:9092"),
    "SW_KAFKA_NAMESPACE": ("str", None),
    "SW_KAFKA_TOPIC_SEGMENT": ("str", None),
    "SW_KAFKA_TOPIC_MANAGEMENT": ("str", None),
}

GARBAGE = {
    "empty": "",
    "space": " \t ",
    "negative": "-1",
    "alpha": "not-a-value",
    "glob": "[",
}


def malformed(name, value):
    """Whether the agent must report value for name."""
    kind = VARIABLES[name][0]
    if value == "":
        return False
    if len(value) >= HUGE:
        return True
    if kind in ("str", "path", "list"):
        return False
    if isinstance(kind, tuple):
        try:
            return not kind[1] <= int(value.strip()) <= kind[2]
        except ValueError:
            return True
    word = value.strip().lower()
    if kind == "bool":
        return word not in ("true", "false", "1", "0", "yes", "no", "on",
                            "off")
    if name == "SW_AGENT_PROTOCOL":
        return word not in ("grpc", "http", "kafka", "file")
    if name == "SW_AGENT_LOGGING_LEVEL":
        return word not in ("debug", "info", "warning", "warn", "error",
                            "critical", "off")
    return True  # the backend: none of the garbage is a host:port


WARN_RE = re.compile(r'^sw\[\d+\]: warning: (SW_[A-Z0-9_]+)="(.*)" is not '
                     r'valid; using (.*)$')


def warnings_of(text):
    out = {}
    for line in text.splitlines():
        m = WARN_RE.match(line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(3))
        else:
            assert not line.startswith("sw["), "unexpected agent line: " + line
    return out


def run_hostile(procs, tmp_path, collector, values, expect_spans=True):
    """Starts python http.server with the SW_* values given (the rest of
    the environment as sw_env makes it), serves one request, and checks
    the warnings and, when asked, that its span reaches the collector."""
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "ok").write_text("ok\n")
    port = free_port()
    env = sw_env(collector, "hz-hostile")
    env.update(values)
    p = procs.start([PYTHON, "-c", PY_HTTP_SERVER, "--bind", "127.0.0.1",
                     "--directory", str(www), str(port)], env=env)
    wait_port(port, p)
    run_hostile.n = getattr(run_hostile, "n", 0) + 1
    query = "run=%d" % run_hostile.n
    assert http_requests(port, ["/ok?" + query]) == [200]
    if expect_spans:
        wait_until(lambda: [sp for _, sp in entry_spans(collector)
                            if sp["operationName"] == "/ok" and
                            tags(sp)["http.url"].endswith("/ok?" + query)],
                   what="the entry span of /ok?" + query, timeout=WAIT)
    # SIGINT: http.server exits cleanly, through the agent's exit flush.
    assert procs.stop(p, signal.SIGINT) == 0, p.stderr_text()
    warned = warnings_of(p.stderr_text())
    expected = {n for n, v in values.items() if n in VARIABLES and
                malformed(n, v)}
    assert set(warned) == expected, p.stderr_text()
    for name, used in warned.items():
        assert len(used) == 1, (name, used)
        default = VARIABLES[name][1]
        if default is not None:
            assert used[0] == default, (name, used)
    return p


def hostile_values(value):
    """Every variable set to value, except the two whose garbage would
    stop the test from seeing spans at all: the backend (a default backend
    is not the test's collector: tested on its own) and the include list,
    which gets the value next to a pattern that matches python3."""
    vals = {n: value for n in VARIABLES}
    del vals["SW_AGENT_COLLECTOR_BACKEND_SERVICES"]
    if value.strip() and len(value) < HUGE:
        vals["SW_AGENT_INCLUDE"] = value + ",python3*"
    return vals


@pytest.mark.parametrize("what", sorted(GARBAGE))
def test_hostile_config(procs, collector, tmp_path, what):
    run_hostile(procs, tmp_path, collector, hostile_values(GARBAGE[what]))


@pytest.mark.parametrize("what", ["x", "9"])
def test_hostile_config_huge(procs, collector, tmp_path, what):
    """100 000-byte values, eight variables at a time (the kernel refuses
    an environment much over 2 MB)."""
    names = sorted(hostile_values(what * HUGE))
    for i in range(0, len(names), 8):
        group = {n: what * HUGE for n in names[i:i + 8]}
        run_hostile(procs, tmp_path, collector, group)


@pytest.mark.parametrize("what", sorted(GARBAGE) + ["huge"])
def test_hostile_backend(procs, collector, tmp_path, what):
    """A malformed backend falls back to the default address, which is not
    this test's collector: the agent is disabled here (its configuration
    is still read and reported) so that nothing is sent elsewhere."""
    value = "x" * HUGE if what == "huge" else GARBAGE[what]
    run_hostile(procs, tmp_path, collector,
                {"SW_AGENT_COLLECTOR_BACKEND_SERVICES": value,
                 "SW_AGENT_DISABLE": "true"}, expect_spans=False)


# ------------------------------------------------------- hooks are invisible

def test_hooks_change_no_result_or_errno(collector):
    """Every fd-based hooked call (read, write, readv, writev, recv, send,
    recvfrom, sendto, recvmsg, sendmsg, sendfile, the _chk entries,
    close, shutdown) on files, pipes, an AF_UNIX pair, bad fds and a
    traced TCP loopback connection, successes and failures, each entered
    with errno set to a sentinel (tests/helpers/bench_io.c `check`): the
    transcript of results, errno values and bytes read is the same bare
    and preloaded. Injection is off so the traced connection carries the
    same bytes either way."""
    exe = os.path.join(os.path.dirname(PRELOAD), "bench_io")
    assert os.path.exists(exe), "helper %s is not built" % exe
    bare = subprocess.run([exe, "check"], capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ["PATH"]})
    assert bare.returncode == 0, bare.stderr
    env = sw_env(collector, "hookcheck", SW_AGENT_INJECT_HEADERS="false")
    pre = subprocess.run([exe, "check"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert pre.returncode == 0, pre.stderr
    lines = bare.stdout.splitlines()
    assert len(lines) > 50 and any(l.startswith("tcp") for l in lines)
    assert pre.stdout.splitlines() == lines


# -------------------------------------------------------------------- ASan

ASAN_PRELOAD = os.environ.get("SW_TEST_ASAN_PRELOAD")
ASAN_RUNTIME = os.environ.get("SW_TEST_ASAN_RUNTIME")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|"
                          r"SUMMARY: (Address|Undefined)")


@pytest.mark.skipif(not ASAN_PRELOAD or not ASAN_RUNTIME,
                    reason="set SW_TEST_ASAN_PRELOAD and SW_TEST_ASAN_RUNTIME "
                           "(scripts/sanitizers.sh asan-preload)")
def test_asan_preload_server_and_client(procs, collector, tmp_path):
    """The ASan+UBSan build of the agent inside a real python3 server and a
    real urllib client: 200 requests, each an exit span with an injected
    sw8 header and an entry span referring to it, then a clean exit
    through the exit flush. Any sanitizer report fails the test."""
    n = 200
    env_extra = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:"
                                 "strict_string_checks=1",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}

    def asan_env(service):
        env = sw_env(collector, service, **env_extra)
        env["LD_PRELOAD"] = "%s %s" % (ASAN_RUNTIME, ASAN_PRELOAD)
        return env

    script = tmp_path / "hz_server.py"
    script.write_text(SERVER)
    port = free_port()
    server = procs.start([PYTHON, str(script), str(port), "cookie"],
                         env=asan_env("asan-server"))
    wait_port(port, server, timeout=60)
    client = tmp_path / "hz_loop.py"
    client.write_text(
        "import sys, urllib.request\n"
        "port, n = int(sys.argv[1]), int(sys.argv[2])\n"
        "for i in range(n):\n"
        "    url = 'http://127.0.0.1:%d/r%d?i=%d' % (port, i % 7, i)\n"
        "    with urllib.request.urlopen(url, timeout=30) as r:\n"
        "        r.read()\n")
    r = subprocess.run([PYTHON, str(client), str(port), str(n)],
                       env=asan_env("asan-client"), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert not SANITIZER_RE.search(r.stderr), r.stderr
    wait_until(lambda: len(entry_spans(collector, "asan-server")) >= n and
               len(spans_of(collector, "Exit", "asan-client")) >= n,
               timeout=120, what="%d entry and exit spans" % n)
    assert procs.stop(server, signal.SIGINT) == 0, server.stderr_text()
    assert not SANITIZER_RE.search(server.stderr_text()), server.stderr_text()
    exits = {sp_seg["traceSegmentId"]
             for sp_seg, _ in spans_of(collector, "Exit", "asan-client")}
    refs = [sp["refs"][0]["parentTraceSegmentId"]
            for _, sp in entry_spans(collector, "asan-server")]
    assert len(refs) == n and set(refs) == exits


@pytest.mark.skipif(not ASAN_PRELOAD or not ASAN_RUNTIME,
                    reason="set SW_TEST_ASAN_PRELOAD and SW_TEST_ASAN_RUNTIME "
                           "(scripts/sanitizers.sh asan-preload)")
def test_asan_preload_nginx(procs, collector, tmp_path):
    """The same with nginx (master + worker, keep-alive): 500 requests,
    then a graceful stop (SIGQUIT), whose worker exit flushes."""
    n = 500
    www = tmp_path / "www"
    www.mkdir()
    (www / "f.txt").write_bytes(b"x" * 1024)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        "%s\ndaemon off;\nmaster_process on;\nworker_processes 1;\n"
        "pid %s/nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 64; }\n"
        "http { access_log off; keepalive_requests 100000;\n"
        "  client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
        "  fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi;\n"
        "  scgi_temp_path %s/scgi;\n"
        "  server { listen 127.0.0.1:%d; root %s; } }\n"
        % ((user,) + (tmp_path,) * 6 + (port, www)))
    env = sw_env(collector, "asan-nginx",
                 ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
                 UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    env["LD_PRELOAD"] = "%s %s" % (ASAN_RUNTIME, ASAN_PRELOAD)
    p = procs.start([nginx_bin(), "-c", str(conf), "-p", str(tmp_path)],
                    env=env)
    wait_port(port, p, timeout=60)
    assert http_requests(port, ["/f.txt?i=%d" % i for i in range(n)]) == \
        [200] * n
    wait_until(lambda: len(entry_spans(collector, "asan-nginx")) >= n,
               timeout=120, what="%d entry spans" % n)
    assert procs.stop(p, signal.SIGQUIT, timeout=60) == 0, p.stderr_text()
    assert not SANITIZER_RE.search(p.stderr_text()), p.stderr_text()
