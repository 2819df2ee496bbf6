"""sw8 propagation on real sockets.

Exact bytes: tests/helpers/inject_client (under the preload) sends a
request through write, send, sendto, writev or sendmsg, blocking, blocking
with a send timeout or non-blocking, with the kernel's send buffer left
alone or shrunk to its minimum, to a server in this test that is not
preloaded and reads slowly in small chunks, so that the client's writes
end part way through the head, the line and the body. What the server
received must be the client's bytes with exactly one "sw8: ...\\r\\n" line
inserted before the head's final CRLF, and the line must name the exit
span the collector received for that client.

Also: keep-alive (one line per request), heads the agent must leave
alone (split over two writes, carrying the application's own sw8, an
ignored path, SW_AGENT_INJECT_HEADERS=false), and an application that
writes the rest of a partly written head in small chunks.

Three hops: curl -> service A (a threaded Python HTTP server that calls B
with urllib) -> service B, all preloaded: one trace, three segments, each
reference pointing at the exact span that called it. And an event loop
(asyncio) serving two requests at once in one thread: its exits get
segments of their own, and B's references point at those.
"""
import base64
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD_DIR, PYTHON, sw_env, tags, wait_until
from swtest_collector import Collector

CLIENT = os.path.join(BUILD_DIR, "inject_client")

OK_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
OK_KEEP = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


# ------------------------------------------------------------------ helpers

def segments(col):
    return col.lines("segment")


def spans(seg, kind=None):
    return [sp for sp in seg.get("spans", [])
            if kind is None or sp.get("spanType", "Entry") == kind]


def span_id(sp):
    return sp.get("spanId", 0)


def parent_id(sp):
    return sp.get("parentSpanId", 0)


def b64d(s):
    return base64.b64decode(s.encode(), validate=True).decode()


def decode_sw8(value):
    parts = value.split("-")
    assert len(parts) == 8, value
    return {
        "sample": parts[0],
        "traceId": b64d(parts[1]),
        "segmentId": b64d(parts[2]),
        "spanId": int(parts[3]),
        "service": b64d(parts[4]),
        "instance": b64d(parts[5]),
        "endpoint": b64d(parts[6]),
        "peer": b64d(parts[7]),
    }


def split_requests(data):
    """Cuts a byte stream of requests into (head, body) pairs, using
    Content-Length (the only framing the client uses)."""
    out = []
    while data:
        end = data.index(b"\r\n\r\n") + 4
        head = data[:end]
        cl = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                cl = int(line.split(b":", 1)[1])
        out.append((head, data[end:end + cl]))
        data = data[end + cl:]
    return out


def sw8_lines(head):
    return [l for l in head.split(b"\r\n")
            if l.lower().startswith(b"sw8:")]


class SlowServer:
    """An uninstrumented HTTP server: one connection at a time, read in
    small chunks with a pause between reads (with a small receive buffer,
    so the client's writes fill up), every byte recorded. Answers each
    request with an empty 200 (Connection: close when the request asked
    for it, then closes)."""

    def __init__(self, chunk=512, pause=0.0005, rcvbuf=4096):
        self.chunk = chunk
        self.pause = pause
        self.sock = socket.socket()
        if rcvbuf:
            # Inherited by the accepted socket; fixed before the handshake
            # so the window stays small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received = []  # the raw bytes of each connection
        self.errors = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._serve(conn)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(repr(e))
            finally:
                conn.close()

    def _serve(self, conn):
        conn.settimeout(60)
        raw = bytearray()
        self.received.append(raw)
        buf = b""

        def more():
            data = conn.recv(self.chunk)
            if data:
                raw.extend(data)
                time.sleep(self.pause)
            return data

        while True:
            while b"\r\n\r\n" not in buf:
                data = more()
                if not data:
                    return
                buf += data
            end = buf.index(b"\r\n\r\n") + 4
            head = buf[:end]
            cl = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    cl = int(line.split(b":", 1)[1])
            while len(buf) < end + cl:
                data = more()
                if not data:
                    return
                buf += data
            buf = buf[end + cl:]
            close = b"\r\nconnection: close\r\n" in head.lower()
            conn.sendall(OK_CLOSE if close else OK_KEEP)
            if close:
                return

    def stop(self):
        self._stop = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def shared_collector(tmp_path_factory):
    """One collector for the many short client runs of the matrix; each
    run has its own service name."""
    d = tmp_path_factory.mktemp("collector")
    c = Collector(str(d))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def server():
    s = SlowServer()
    yield s
    s.stop()


def run_client(args, env, timeout=120, check=True):
    """Runs inject_client; returns the status lines, its write statistics
    and its stderr. check=False leaves its exit status to the caller
    (err then starts with "exit N"), for tests that compare the bytes
    first: a corrupted request may well make the exchange fail."""
    p = subprocess.run([CLIENT] + [str(a) for a in args], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    if check:
        assert p.returncode == 0, "client failed (%d):\n%s\n%s" % (
            p.returncode, out, err)
    else:
        err = "exit %d\n%s" % (p.returncode, err)
    stats = {}
    for line in out.splitlines():
        if line.startswith("calls="):
            stats = dict(kv.split("=") for kv in line.split())
            stats = {k: int(v) for k, v in stats.items()}
    statuses = [l[7:] for l in out.splitlines() if l.startswith("status ")]
    return statuses, stats, err


def exit_spans_of(col, service):
    return [(seg, sp) for seg in segments(col)
            if seg.get("service") == service
            for sp in spans(seg, "Exit")]


def explain(sent, received):
    """Where a received stream departs from the one sent."""
    n = min(len(sent), len(received))
    i = next((k for k in range(n) if sent[k] != received[k]), n)
    found = [m.start() for m in re.finditer(rb"sw8: ", received)]
    ends = [m.start() + 2 for m in re.finditer(rb"\r\n\r\n", sent)]
    return ("%d bytes sent, %d received; first difference at byte %d "
            "(received %r); 'sw8: ' received at offsets %s; the sent heads' "
            "final CRLF at offsets %s" % (
                len(sent), len(received), i, received[i:i + 40], found,
                ends))


def check_injected(sent, received, col, service, port, nreq=1):
    """received == sent with one sw8 line in each request head; each line
    names the exit span the collector got for that request. Returns the
    decoded lines."""
    sreqs = split_requests(sent)
    assert len(sreqs) == nreq
    try:
        rreqs = split_requests(received)
    except (ValueError, IndexError):
        rreqs = []
    assert len(rreqs) == nreq, explain(sent, received)
    decoded = []
    for (shead, sbody), (rhead, rbody) in zip(sreqs, rreqs):
        assert sw8_lines(shead) == []
        lines = sw8_lines(rhead)
        assert len(lines) == 1, explain(sent, received)
        line = lines[0] + b"\r\n"
        assert line.startswith(b"sw8: ") and b" " not in line[5:]
        # Exactly: the client's head up to its final CRLF, the line, the
        # final CRLF, the body.
        assert rhead == shead[:-2] + line + b"\r\n", explain(sent, received)
        assert rbody == sbody, explain(sent, received)
        decoded.append(decode_sw8(line[5:-2].decode()))
    assert b"".join(h + b for h, b in rreqs) == received

    exits = wait_until(
        lambda: len(exit_spans_of(col, service)) >= nreq and
        exit_spans_of(col, service), timeout=60,
        what="%d exit span(s) of %s" % (nreq, service))
    assert len(exits) == nreq
    by_seg = {seg["traceSegmentId"]: (seg, sp) for seg, sp in exits}
    assert len(by_seg) == nreq
    for v in decoded:
        seg, sp = by_seg[v["segmentId"]]
        assert v["sample"] == "1"
        assert v["traceId"] == seg["traceId"]
        assert v["spanId"] == span_id(sp) == 0
        assert v["service"] == service == seg["service"]
        assert v["instance"] == seg["serviceInstance"]
        # No entry in the client's segment: the exit's own name.
        assert v["endpoint"] == sp["operationName"] == "/inject"
        assert v["peer"] == sp["peer"] == "127.0.0.1:%d" % port
        # The response was matched to the request: the parser kept track
        # of the application's bytes, not the line's.
        assert tags(sp)["http.status_code"] == "200"
        assert not sp.get("isError")
    return decoded


# --------------------------------------------------------- the exact bytes

SYSCALLS = ["write", "send", "sendto", "writev", "sendmsg"]
BLOCKING = ["blocking", "timeout", "nonblocking"]
BUFFERS = ["normal", "sndbuf1"]


@pytest.mark.parametrize("buffers", BUFFERS)
@pytest.mark.parametrize("blocking", BLOCKING)
@pytest.mark.parametrize("syscall", SYSCALLS)
def test_exact_bytes(shared_collector, server, tmp_path, syscall, blocking,
                     buffers):
    service = "inj-%s-%s-%s" % (syscall, blocking, buffers)
    sent_path = tmp_path / "sent"
    # A head of 40918 bytes: with a minimal send buffer Linux takes 2 KiB
    # at a time here, which ends one write inside the sw8 line (nothing
    # below relies on where the writes end).
    args = ["-m", syscall, "-P", 40900, "-B", 30000, "-o", sent_path]
    if blocking == "nonblocking":
        args.append("-n")
    elif blocking == "timeout":
        args += ["-t", 2]
    if buffers == "sndbuf1":
        args += ["-b", 1]
    env = sw_env(shared_collector, service,
                 SW_AGENT_INSTANCE_NAME=service + "-inst")
    statuses, stats, err = run_client(args + [server.port], env)
    assert statuses == ["HTTP/1.1 200 OK"], err
    assert server.errors == []
    assert len(server.received) == 1
    sent = sent_path.read_bytes()
    check_injected(sent, bytes(server.received[0]), shared_collector,
                   service, server.port)
    if blocking == "nonblocking" and buffers == "sndbuf1":
        # A 70 KB request cannot fit a minimal send buffer and a 4 KB
        # receive window: the writes must have been cut short.
        assert stats["partial"] + stats["eagain"] > 0, stats


def test_keep_alive_each_request_gets_its_own_line(shared_collector, server,
                                                    tmp_path):
    service = "inj-keepalive"
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service)
    statuses, _, err = run_client(
        ["-m", "writev", "-n", "-b", 1, "-P", 8000, "-B", 5000, "-r", 3,
         "-o", sent_path, server.port], env)
    assert statuses == ["HTTP/1.1 200 OK"] * 3, err
    assert len(server.received) == 1
    decoded = check_injected(sent_path.read_bytes(),
                             bytes(server.received[0]), shared_collector,
                             service, server.port, nreq=3)
    assert len({v["traceId"] for v in decoded}) == 3


@pytest.mark.parametrize("syscall", ["write", "writev", "sendmsg"])
def test_split_head_is_left_alone(shared_collector, server, tmp_path,
                                  syscall):
    service = "inj-split-" + syscall
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service)
    statuses, _, err = run_client(
        ["-m", syscall, "-S", "-P", 2000, "-B", 100, "-o", sent_path,
         server.port], env)
    assert statuses == ["HTTP/1.1 200 OK"], err
    received = bytes(server.received[0])
    assert received == sent_path.read_bytes()
    assert b"sw8:" not in received.lower()
    # Still traced, just not propagated.
    exits = wait_until(lambda: exit_spans_of(shared_collector, service),
                       timeout=60, what="exit span of " + service)
    assert len(exits) == 1
    assert exits[0][1]["operationName"] == "/inject"


APP_SW8 = "-".join(["1"] + [base64.b64encode(s.encode()).decode() for s in (
    "apptrace", "appsegment")] + ["7"] + [
        base64.b64encode(s.encode()).decode() for s in (
            "appsvc", "appinst", "/app", "127.0.0.1:1")])


@pytest.mark.parametrize("syscall", ["send", "writev"])
def test_application_sw8_is_not_doubled(shared_collector, server, tmp_path,
                                        syscall):
    service = "inj-appsw8-" + syscall
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service)
    statuses, _, err = run_client(
        ["-m", syscall, "-a", APP_SW8, "-P", 3000, "-o", sent_path,
         server.port], env)
    assert statuses == ["HTTP/1.1 200 OK"], err
    received = bytes(server.received[0])
    assert received == sent_path.read_bytes()
    lines = sw8_lines(split_requests(received)[0][0])
    assert lines == [b"sw8: " + APP_SW8.encode()]


@pytest.mark.parametrize("syscall", ["write", "sendmsg"])
def test_inject_headers_false(shared_collector, server, tmp_path, syscall):
    service = "inj-off-" + syscall
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service, SW_AGENT_INJECT_HEADERS="false")
    statuses, _, err = run_client(
        ["-m", syscall, "-n", "-b", 1, "-P", 20000, "-B", 1000, "-o",
         sent_path, server.port], env)
    assert statuses == ["HTTP/1.1 200 OK"], err
    received = bytes(server.received[0])
    assert received == sent_path.read_bytes()
    assert b"sw8:" not in received.lower()
    # The exit is still traced.
    wait_until(lambda: exit_spans_of(shared_collector, service), timeout=60,
               what="exit span of " + service)


def test_ignored_path_is_left_alone(shared_collector, server, tmp_path):
    service = "inj-ignored"
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service,
                 SW_AGENT_TRACE_IGNORE_PATH="/health/**")
    statuses, _, err = run_client(
        ["-m", "send", "-p", "/health/live", "-o", sent_path, server.port],
        env)
    assert statuses == ["HTTP/1.1 200 OK"], err
    received = bytes(server.received[0])
    assert received == sent_path.read_bytes()
    assert b"sw8:" not in received.lower()


# ------------------------------------------------------------ three hops

SERVICE_B = r'''
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = ("B says hello to " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
'''

SERVICE_A = r'''
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

B = int(sys.argv[1])

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with urllib.request.urlopen(
                "http://127.0.0.1:%d/api/backend" % B, timeout=30) as r:
            body = r.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
'''


def start_server(procs, code, env, *args):
    p = procs.start([PYTHON, "-c", code] + [str(a) for a in args], env=env,
                    stdout=subprocess.PIPE)
    line = p.stdout.readline()
    assert line, "server exited: %s" % (
        p.stderr_text() if hasattr(p, "stderr_text") else p.returncode)
    return p, int(line)


def test_three_hops(collector, procs):
    env_b = sw_env(collector, "svc-b", SW_AGENT_INSTANCE_NAME="b-inst")
    env_a = sw_env(collector, "svc-a", SW_AGENT_INSTANCE_NAME="a-inst")
    env_c = sw_env(collector, "svc-curl", SW_AGENT_INSTANCE_NAME="curl-inst")
    _, port_b = start_server(procs, SERVICE_B, env_b)
    _, port_a = start_server(procs, SERVICE_A, env_a, port_b)

    for i in range(3):
        p = subprocess.run(
            ["curl", "-sS", "--max-time", "60",
             "http://127.0.0.1:%d/api/hello?n=%d" % (port_a, i)],
            env=env_c, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=120)
        assert p.returncode == 0, p.stderr
        assert p.stdout == b"B says hello to /api/backend"

    col = collector.wait_for(lambda c: len(segments(c)) >= 9, timeout=90)
    time.sleep(0.5)  # anything extra would show up now
    segs = segments(col)
    assert len(segs) == 9, [(s.get("service"), s.get("traceId"))
                            for s in segs]
    traces = {}
    for s in segs:
        traces.setdefault(s["traceId"], []).append(s)
    assert len(traces) == 3
    for tid, group in traces.items():
        by_svc = {s["service"]: s for s in group}
        assert sorted(by_svc) == ["svc-a", "svc-b", "svc-curl"], group
        c, a, b = by_svc["svc-curl"], by_svc["svc-a"], by_svc["svc-b"]
        assert c["serviceInstance"] == "curl-inst"
        assert a["serviceInstance"] == "a-inst"
        assert b["serviceInstance"] == "b-inst"

        # curl: one exit span, the root of its segment.
        assert len(spans(c)) == 1
        cx = spans(c, "Exit")[0]
        assert span_id(cx) == 0 and parent_id(cx) == -1
        assert cx["operationName"] == "/api/hello"
        assert cx["peer"] == "127.0.0.1:%d" % port_a

        # A: entry 0 (ref to curl's exit), exit 1 under it.
        assert len(spans(a)) == 2
        ae = spans(a, "Entry")[0]
        ax = spans(a, "Exit")[0]
        assert span_id(ae) == 0 and parent_id(ae) == -1
        assert ae["operationName"] == "/api/hello"
        assert len(ae.get("refs", [])) == 1
        ref = ae["refs"][0]
        assert ref.get("refType", "CrossProcess") == "CrossProcess"
        assert ref["traceId"] == tid
        assert ref["parentTraceSegmentId"] == c["traceSegmentId"]
        assert ref.get("parentSpanId", 0) == span_id(cx) == 0
        assert ref["parentService"] == "svc-curl"
        assert ref["parentServiceInstance"] == "curl-inst"
        # No entry in curl's segment: the exit's own name.
        assert ref["parentEndpoint"] == cx["operationName"]
        assert ref["networkAddressUsedAtPeer"] == "127.0.0.1:%d" % port_a
        assert span_id(ax) == 1 and parent_id(ax) == 0
        assert ax["operationName"] == "/api/backend"
        assert ax["peer"] == "127.0.0.1:%d" % port_b

        # B: entry 0 with a ref to A's exit (span 1).
        assert len(spans(b)) == 1
        be = spans(b, "Entry")[0]
        assert span_id(be) == 0 and parent_id(be) == -1
        assert be["operationName"] == "/api/backend"
        assert len(be.get("refs", [])) == 1
        ref = be["refs"][0]
        assert ref.get("refType", "CrossProcess") == "CrossProcess"
        assert ref["traceId"] == tid
        assert ref["parentTraceSegmentId"] == a["traceSegmentId"]
        assert ref.get("parentSpanId", 0) == span_id(ax) == 1
        assert ref["parentService"] == "svc-a"
        assert ref["parentServiceInstance"] == "a-inst"
        assert ref["parentEndpoint"] == ae["operationName"] == "/api/hello"
        assert ref["networkAddressUsedAtPeer"] == "127.0.0.1:%d" % port_b


# ------------------------------------------------- one thread, two requests

SERVICE_A_LOOP = r'''
import asyncio
import sys

B = int(sys.argv[1])
state = {"arrived": 0}


async def handle(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    path = head.split(b" ")[1].decode()
    # Both requests are read (both entries in flight on this one thread)
    # before either calls B.
    state["arrived"] += 1
    if state["arrived"] == 2:
        state["both"].set()
    await state["both"].wait()
    r, w = await asyncio.open_connection("127.0.0.1", B)
    w.write(("GET /api/backend HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
             "X-From: %s\r\nConnection: close\r\n\r\n" % (B, path)).encode())
    await w.drain()
    resp = await r.read()
    w.close()
    body = resp.split(b"\r\n\r\n", 1)[1]
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


async def main():
    state["both"] = asyncio.Event()
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()

asyncio.run(main())
'''


def test_event_loop_exits_get_their_own_segments(collector, procs):
    """Two requests in flight on one thread: the exits are not linked to
    either entry (no guessing), yet each still carries an sw8 naming its
    own segment, and B's entries point at exactly those."""
    env_b = sw_env(collector, "loop-b", SW_AGENT_INSTANCE_NAME="b-inst")
    env_a = sw_env(collector, "loop-a", SW_AGENT_INSTANCE_NAME="a-inst")
    _, port_b = start_server(procs, SERVICE_B, env_b)
    _, port_a = start_server(procs, SERVICE_A_LOOP, env_a, port_b)

    results = []

    def call(path):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port_a, timeout=60)
        conn.request("GET", path)
        r = conn.getresponse()
        results.append((r.status, r.read()))
        conn.close()

    threads = [threading.Thread(target=call, args=(p,))
               for p in ("/one", "/two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(results) == [(200, b"B says hello to /api/backend")] * 2

    col = collector.wait_for(lambda c: len(segments(c)) >= 6, timeout=90)
    segs = segments(col)
    a_segs = [s for s in segs if s["service"] == "loop-a"]
    b_segs = [s for s in segs if s["service"] == "loop-b"]
    assert len(a_segs) == 4 and len(b_segs) == 2, segs
    a_entries = [s for s in a_segs if spans(s, "Entry")]
    a_exits = [s for s in a_segs if spans(s, "Exit")]
    assert len(a_entries) == 2 and len(a_exits) == 2
    assert sorted(spans(s)[0]["operationName"] for s in a_entries) == [
        "/one", "/two"]
    for s in a_entries:
        assert len(spans(s)) == 1  # the exits did not join
    exits = {s["traceSegmentId"]: s for s in a_exits}
    for s in a_exits:
        assert len(spans(s)) == 1
        x = spans(s)[0]
        assert span_id(x) == 0 and parent_id(x) == -1
        assert x["peer"] == "127.0.0.1:%d" % port_b
        assert s["traceId"] not in {e["traceId"] for e in a_entries}
    seen = set()
    for b in b_segs:
        e = spans(b, "Entry")[0]
        assert len(e.get("refs", [])) == 1
        ref = e["refs"][0]
        x = exits[ref["parentTraceSegmentId"]]
        seen.add(ref["parentTraceSegmentId"])
        assert b["traceId"] == ref["traceId"] == x["traceId"]
        assert ref.get("parentSpanId", 0) == 0
        assert ref["parentService"] == "loop-a"
        assert ref["parentServiceInstance"] == "a-inst"
        # The exit has no entry in its segment: its own name.
        assert ref["parentEndpoint"] == "/api/backend"
        assert ref["networkAddressUsedAtPeer"] == "127.0.0.1:%d" % port_b
    assert seen == set(exits)


@pytest.mark.parametrize("syscall", ["write", "writev"])
def test_short_writes_after_a_partial_one(shared_collector, server, tmp_path,
                                          syscall):
    """Once the kernel took part of the head, the application writes the
    rest in chunks of 1000 bytes (a writer with a fixed chunk size): the
    line must still go right before the head's final CRLF."""
    service = "inj-chunks-" + syscall
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service)
    statuses, stats, err = run_client(
        ["-m", syscall, "-n", "-b", 1, "-c", 1000, "-P", 40900, "-B", 3000,
         "-o", sent_path, server.port], env, check=False)
    assert len(server.received) == 1, err
    check_injected(sent_path.read_bytes(), bytes(server.received[0]),
                   shared_collector, service, server.port)
    assert statuses == ["HTTP/1.1 200 OK"], err
    assert stats["partial"] > 0, stats


@pytest.mark.parametrize("syscall", ["writev", "sendmsg"])
def test_more_entries_after_a_partial_write(shared_collector, server,
                                            tmp_path, syscall):
    """The first call carries the head and one body entry; once the kernel
    took part of the head, the application's queue has grown to 100 body
    entries (more than the injector composes at once). Both requests on
    the connection must still arrive exact, with one line each."""
    service = "inj-queue-" + syscall
    sent_path = tmp_path / "sent"
    env = sw_env(shared_collector, service)
    statuses, stats, err = run_client(
        ["-m", syscall, "-n", "-b", 1, "-q", 100, "-P", 40900, "-B", 20000,
         "-r", 2, "-o", sent_path, server.port], env, check=False)
    assert len(server.received) == 1, err
    check_injected(sent_path.read_bytes(), bytes(server.received[0]),
                   shared_collector, service, server.port, nreq=2)
    assert statuses == ["HTTP/1.1 200 OK"] * 2, err
    assert stats["partial"] > 0, stats
