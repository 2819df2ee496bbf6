"""A traced application stays unaffected whatever the backend does.

A python3 http.server under the preload reports over gRPC or HTTP (and,
where it applies, Kafka) to a backend that is absent, silent (accepts
connections and never answers), answering errors, or restarting. Each
test checks that every request of the application is answered, that the
failures are counted (the stats line SW_AGENT_LOGGING_LEVEL=DEBUG prints
at exit; python's http.server exits through its exit handlers on
SIGINT) and logged at most once a minute, and that delivery resumes when
the backend comes back. No assertion depends on timing except two
generous caps where the point is that something is bounded.
"""
import http.server
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (BUILD_DIR, PY_HTTP_SERVER, PYTHON, free_port,
                      http_requests, sw_env, wait_port, wait_until)
from swtest_collector import Collector, KafkaBackend

WAIT = 90
# The files the traced server serves; the tests tell phases apart by path.
PAGES = ('before', 'after', 'warm', 'during', 'a', 'b', 'c', 'p1', 'p2',
         'p3', 'first', 'flood')


# -------------------------------------------------------------- helpers

def proto_env(proto, backend, service, **extra):
    """A traced child's environment reporting over proto to backend."""
    env = sw_env(None, service)
    for k in list(env):
        if k.startswith('SW_KAFKA_'):
            del env[k]
    env['SW_AGENT_PROTOCOL'] = proto
    if proto == 'kafka':
        env['SW_KAFKA_BOOTSTRAP_SERVERS'] = backend
    else:
        env['SW_AGENT_COLLECTOR_BACKEND_SERVICES'] = backend
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_server(procs, env, tmp_path):
    www = tmp_path / 'www'
    www.mkdir(exist_ok=True)
    for name in PAGES:
        (www / name).write_text('hello\n')
    port = free_port()
    p = procs.start([PYTHON, '-c', PY_HTTP_SERVER, '--bind', '127.0.0.1',
                     '--directory', str(www), str(port)], env=env)
    wait_port(port, p)
    return p, port


def requests_ok(port, path, n):
    """n requests, all answered 200 (each may wait up to 30 s)."""
    assert http_requests(port, [path] * n) == [200] * n


def stop_with_exit_handlers(p):
    """SIGINT: http.server stops serving and returns (conftest's
    PY_HTTP_SERVER), so the exit flush and the final stats line run.
    Returns the stderr text."""
    p.send_signal(signal.SIGINT)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError('no exit after SIGINT:\n' + p.stderr_text())
    assert p.returncode == 0, p.stderr_text()
    return p.stderr_text()


def stats(stderr):
    lines = [ln for ln in stderr.splitlines() if ' stats: ' in ln]
    assert lines, 'no stats line at exit:\n' + stderr
    out = {}
    for word in lines[-1].split(' stats: ', 1)[1].split():
        k, _, v = word.partition('=')
        out[k] = int(v)
    return out


def warnings_about_failures(stderr):
    return [ln for ln in stderr.splitlines()
            if ': warning: reporter:' in ln and ' failed: ' in ln]


def warnings_allowed(t0):
    """Failures are logged at most once a minute: how many warnings a
    process started at t0 (monotonic) may have printed by now."""
    return 1 + int((time.monotonic() - t0) // 60)


def next_tries(stderr, what='segments'):
    return [int(x) for x in
            re.findall(r'reporter: %s: next try in (\d+) ms' % what, stderr)]


def steady_fds(pid):
    """The application's open fds, leaving out the ones a request that
    just ended may still hold for a moment (python's http.server closes
    its end of the connection, and the file it served, after the client
    has read the answer): the least of a few looks. A leak shows in all
    of them."""
    counts = []
    for _ in range(5):
        counts.append(len(os.listdir('/proc/%d/fd' % pid)))
        time.sleep(0.05)
    return min(counts)


def entry_ops(col):
    return [sp.get('operationName') for s in col.segments()
            for sp in s.get('spans', [])]


class SilentBackend:
    """Accepts connections and reads from them forever, never answering.
    Knows how many connections it got and how many are open; release()
    closes them all, and the listening socket."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = '127.0.0.1:%d' % self.port
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.conns = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            with self.lock:
                socks = [self.sock] + self.conns if self.sock else self.conns
            try:
                r, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                continue
            # Closes before accepts: a client that closes one connection
            # and opens the next is never seen with two open.
            r.sort(key=lambda s: s is self.sock)
            for s in r:
                with self.lock:
                    if s is self.sock:
                        try:
                            c, _ = s.accept()
                        except OSError:
                            continue
                        self.conns.append(c)
                        self.accepted += 1
                        self.open += 1
                        self.max_open = max(self.max_open, self.open)
                        continue
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b''
                    if not data and s in self.conns:
                        self.conns.remove(s)
                        s.close()
                        self.open -= 1

    def release(self):
        with self.lock:
            for c in self.conns:
                c.close()
            self.conns = []
            self.open = 0
            if self.sock:
                self.sock.close()
                self.sock = None

    def close(self):
        self.release()
        self.stop = True
        self.thread.join(5)


@pytest.fixture
def silent():
    s = SilentBackend()
    yield s
    s.close()


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *a):
        pass


@pytest.fixture
def plain_server():
    """An uninstrumented server in the test runner, for traced clients."""
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Quiet)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def collector_on(tmp_path, proto, port=0):
    """A collector whose gRPC (or, for http, REST) port is port."""
    if proto == 'http':
        args = ['--http-port', str(port)] if port else []
        return Collector(tmp_path, args, http=True)
    return Collector(tmp_path, ['--grpc-port', str(port)] if port else [])


def backend_of(col, proto):
    return col.http_backend if proto == 'http' else col.backend


# -------------------------------------------------------------- (1)

@pytest.mark.parametrize('proto', ['grpc', 'http'])
def test_backend_appears_later(proto, procs, tmp_path):
    """No backend at start; one appears later on the same port: delivery
    resumes on the next retry (1 s, then doubling)."""
    port = free_port()
    t0 = time.monotonic()
    p, sport = start_server(
        procs, proto_env(proto, '127.0.0.1:%d' % port, 'late',
                         SW_AGENT_LOGGING_LEVEL='DEBUG'), tmp_path)
    requests_ok(sport, '/before', 5)
    wait_until(lambda: next_tries(p.stderr_text()), timeout=WAIT,
               what='a failed send')
    col = collector_on(tmp_path, proto, port)
    try:
        col.start()
    except RuntimeError:
        pytest.skip('port %d was taken meanwhile' % port)
    try:
        requests_ok(sport, '/after', 5)
        col.wait_for(lambda c: entry_ops(c).count('/after') == 5,
                     timeout=WAIT)
        wait_until(lambda: 'backend reachable again (segments)'
                   in p.stderr_text(), timeout=WAIT, what='recovery')
        err = stop_with_exit_handlers(p)
    finally:
        col.stop()
    # The retry schedule: 1 s after the first failure, then doubling.
    tries = next_tries(err)
    assert tries and tries == [1000 * 2 ** i for i in range(len(tries))]
    st = stats(err)
    assert st['segments_sent'] == len(col.segments())
    assert st['segments_sent'] + st['segments_dropped'] == 10, err
    assert 1 <= len(warnings_about_failures(err)) <= warnings_allowed(t0), err


# -------------------------------------------------------------- (2)

@pytest.mark.parametrize('proto', ['grpc', 'http'])
def test_silent_backend(proto, procs, tmp_path, silent):
    """A backend that accepts and never answers: the reporter's calls
    time out (at most one connection at a time, no fd growth), and the
    application answers every request meanwhile."""
    p, sport = start_server(procs, proto_env(proto, silent.address, 'hang'),
                            tmp_path)
    requests_ok(sport, '/warm', 5)
    wait_until(lambda: silent.accepted >= 1, timeout=WAIT,
               what='the reporter connecting')
    baseline = steady_fds(p.pid)
    samples = []
    # Until a call timed out and the reporter connected again: a whole
    # cycle of the failure.
    deadline = time.monotonic() + 120
    while silent.accepted < 2 and time.monotonic() < deadline:
        # Answered while the reporter hangs in its call.
        requests_ok(sport, '/during', 5)
        samples.append(steady_fds(p.pid))
    assert silent.accepted >= 2, 'the call never timed out'
    requests_ok(sport, '/after', 20)
    samples.append(steady_fds(p.pid))
    assert silent.max_open == 1
    assert max(samples) <= baseline, (baseline, samples)
    assert p.poll() is None


CLIENT = r"""
import sys, urllib.request
urllib.request.urlopen('http://127.0.0.1:%s/x' % sys.argv[1]).read()
print('done', flush=True)
"""


@pytest.mark.parametrize('proto', ['grpc', 'http', 'kafka'])
def test_exit_with_silent_backend(proto, tmp_path, silent, plain_server):
    """A short-lived client whose backend hangs exits within its flush
    deadline, not after the 10 s a call may take."""
    env = proto_env(proto, silent.address, 'quick',
                    SW_AGENT_FLUSH_TIMEOUT_MS='1000',
                    SW_AGENT_LOGGING_LEVEL='DEBUG')
    proc = subprocess.Popen([PYTHON, '-c', CLIENT, str(plain_server)],
                            env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        t0 = time.monotonic()
        proc.wait(60)
        elapsed = time.monotonic() - t0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert line.strip() == 'done', err
    assert proc.returncode == 0, err
    if proto == 'kafka':
        # librdkafka's flush gives up at the deadline by itself.
        st = stats(err)
        assert st['segments_sent'] == 0 and st['segments_dropped'] == 1, err
    else:
        # The reporter is stuck in a call: exit gives up on it. (On a
        # busy machine the process may exit before the reporter thread
        # made its first call: the flush's own call then times out at
        # the deadline.)
        assert ('exit flush deadline (1000 ms) reached' in err or
                'sending segments at exit failed' in err), err
    assert elapsed < 8, (elapsed, err)


# -------------------------------------------------------------- (3)

@pytest.mark.parametrize('proto', ['grpc', 'http'])
def test_backend_errors(proto, procs, tmp_path):
    """Every segment report is answered with an error (gRPC UNAVAILABLE,
    HTTP 500): counted, dropped, logged once, the application
    unaffected."""
    if proto == 'http':
        col = Collector(tmp_path, ['--http-fail-status', '500'], http=True)
    else:
        col = Collector(tmp_path, ['--fail-status', 'UNAVAILABLE'])
    with col:
        t0 = time.monotonic()
        p, sport = start_server(
            procs, proto_env(proto, backend_of(col, proto), 'errs',
                             SW_AGENT_LOGGING_LEVEL='DEBUG'), tmp_path)
        requests_ok(sport, '/a', 20)
        # A second failure, after the first backoff.
        wait_until(lambda: next_tries(p.stderr_text()) == [1000],
                   timeout=WAIT, what='a first failure')
        requests_ok(sport, '/b', 20)
        wait_until(lambda: len(next_tries(p.stderr_text())) >= 2,
                   timeout=WAIT, what='a second failure')
        requests_ok(sport, '/c', 10)
        err = stop_with_exit_handlers(p)
        assert col.segments() == []
    st = stats(err)
    assert st['spans_created'] == 50, err
    assert st['segments_sent'] == 0, err
    assert st['segments_dropped'] == 50, err
    assert st['backend_errors'] >= 2, err
    warn = warnings_about_failures(err)
    assert 1 <= len(warn) <= warnings_allowed(t0), err
    assert ('grpc-status 14' if proto == 'grpc' else 'HTTP 500') in warn[0]
    assert 'backend reachable again (segments)' not in err


# -------------------------------------------------------------- (4)

@pytest.mark.parametrize('proto', ['grpc', 'http'])
def test_backend_restart(proto, procs, tmp_path):
    """The backend goes away mid-stream and comes back on the same port:
    no crash, nothing delivered twice, every loss counted."""
    a = collector_on(tmp_path, proto).start()
    port = a.http_port if proto == 'http' else a.port
    p, sport = start_server(
        procs, proto_env(proto, backend_of(a, proto), 'restart',
                         SW_AGENT_LOGGING_LEVEL='DEBUG'), tmp_path)
    b = None
    try:
        requests_ok(sport, '/p1', 30)
        a.wait_for(lambda c: entry_ops(c).count('/p1') == 30, timeout=WAIT)
        a.stop()
        requests_ok(sport, '/p2', 30)
        b = collector_on(tmp_path, proto, port)
        try:
            b.start()
        except RuntimeError:
            pytest.skip('port %d was taken meanwhile' % port)
        requests_ok(sport, '/p3', 30)
        b.wait_for(lambda c: entry_ops(c).count('/p3') == 30, timeout=WAIT)
        err = stop_with_exit_handlers(p)
    finally:
        a.stop()
        if b is not None:
            b.stop()
    segs = a.segments() + b.segments()
    ids = [s['traceSegmentId'] for s in segs]
    assert len(ids) == len(set(ids)), 'a segment was delivered twice'
    st = stats(err)
    assert st['spans_created'] == 90, err
    assert st['segments_sent'] == len(segs), err
    assert st['segments_sent'] + st['segments_dropped'] == 90, err
    assert 'backend reachable again' in err


# -------------------------------------------------------------- overload

BENCH_REPORTER = os.path.join(BUILD_DIR, 'bench_reporter')


def run_bench_reporter(backend, rate, seconds, **extra):
    """tests/helpers/bench_reporter: the real ring and reporter thread fed
    by a synthetic producer at rate spans/s, in bursts of about a
    millisecond's worth. Returns (its name=value lines, stderr)."""
    if not os.path.exists(BENCH_REPORTER):
        pytest.skip('bench_reporter not built in ' + BUILD_DIR)
    env = sw_env(None, 'bench', SW_AGENT_LOGGING_LEVEL='DEBUG',
                 SW_AGENT_COLLECTOR_BACKEND_SERVICES=backend,
                 SW_AGENT_FLUSH_TIMEOUT_MS='10000', **extra)
    del env['LD_PRELOAD']  # it is the agent itself, not traced
    proc = subprocess.run([BENCH_REPORTER, '-r', str(rate), '-d',
                           str(seconds), '-w', '60', BUILD_DIR], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        k, _, v = line.partition('=')
        out[k] = float(v)
    return out, proc.stderr


def test_ring_full_counted(tmp_path):
    """Producers faster than the reporter overflow a 16-cell span ring:
    the spans beyond it are dropped and counted, and every span is
    accounted for at exit (sent, or dropped at the ring or by the
    reporter)."""
    with Collector(tmp_path) as col:
        out, err = run_bench_reporter(
            col.backend, 50000, 0.4,
            SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE='16')
        st = stats(err)
        col.wait_for(lambda c: len(c.segments()) >= st['segments_sent'],
                     timeout=WAIT)
        assert len(col.segments()) == st['segments_sent'], err
    assert st['spans_created'] == out['offered'], (out, err)
    assert st['spans_dropped_ring'] > 0, err
    assert st['segments_sent'] > 0, err
    assert (st['spans_dropped_ring'] + st['segments_sent'] +
            st['segments_dropped'] == st['spans_created']), err


@pytest.mark.parametrize('proto', ['grpc', 'http'])
def test_silent_call_ring_drained(proto, procs, tmp_path, silent):
    """While the reporter waits on a backend that never answers it keeps
    draining the span ring: a flood of three times the ring's 64 cells
    loses nothing there; the reporter's queue takes the spans, and they
    count as dropped when the call fails and the process exits."""
    p, sport = start_server(
        procs, proto_env(proto, silent.address, 'absorb',
                         SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE='64',
                         SW_AGENT_LOGGING_LEVEL='DEBUG'), tmp_path)
    requests_ok(sport, '/first', 1)
    wait_until(lambda: silent.accepted >= 1, timeout=WAIT,
               what='the reporter connecting')
    requests_ok(sport, '/flood', 200)
    # The backend goes away for good: the hung call fails at once.
    silent.release()
    err = stop_with_exit_handlers(p)
    st = stats(err)
    assert st['spans_created'] == 201, err
    assert st['spans_dropped_ring'] == 0, err
    assert st['segments_sent'] == 0, err
    assert st['segments_dropped'] == 201, err
    drops = [ln for ln in err.splitlines()
             if 'reporter: segments dropped: ' in ln]
    assert drops and 'queue full 0,' in drops[-1], err


def test_stalling_backend_ring_drained(tmp_path):
    """A backend that pauses for longer than the ring lasts (SIGSTOP):
    the call in flight waits, the ring keeps emptying into the reporter's
    queue, and every span is delivered once the backend is back."""
    with Collector(tmp_path) as col:
        def pause():
            time.sleep(0.2)
            os.kill(col.proc.pid, signal.SIGSTOP)
            time.sleep(1.5)
            os.kill(col.proc.pid, signal.SIGCONT)

        t = threading.Thread(target=pause)
        t.start()
        try:
            # 2,000 spans/s for 2 s: 3,000 while the backend is stopped,
            # in a ring of 256.
            out, err = run_bench_reporter(
                col.backend, 2000, 2,
                SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE='256')
        finally:
            t.join()
            os.kill(col.proc.pid, signal.SIGCONT)
        st = stats(err)
        col.wait_for(lambda c: len(c.segments()) >= st['segments_sent'],
                     timeout=WAIT)
        segs = col.segments()
        assert len(segs) == st['segments_sent'], err
        # Each once: none sent twice, none lost.
        assert len({s['traceSegmentId'] for s in segs}) == len(segs)
    assert st['spans_created'] == out['offered'], (out, err)
    assert st['spans_dropped_ring'] == 0, err
    assert st['segments_dropped'] == 0, err
    assert st['segments_sent'] == st['spans_created'], err


# -------------------------------------------------------------- Kafka

def test_kafka_broker_absent(tmp_path, plain_server):
    """No broker: librdkafka keeps its errors to itself at the default log
    level, the client exits, and its segments count as dropped."""
    env = proto_env('kafka', '127.0.0.1:%d' % free_port(), 'nokafka',
                    SW_AGENT_FLUSH_TIMEOUT_MS='1000')
    code = ("import sys, urllib.request\n"
            "for i in range(3):\n"
            "    urllib.request.urlopen('http://127.0.0.1:%s/x' % "
            "sys.argv[1]).read()\n")
    r = subprocess.run([PYTHON, '-c', code, str(plain_server)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 'rdkafka' not in r.stderr.lower(), r.stderr

    env['SW_AGENT_LOGGING_LEVEL'] = 'DEBUG'
    r = subprocess.run([PYTHON, '-c', code, str(plain_server)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    st = stats(r.stderr)
    assert st['segments_sent'] == 0, r.stderr
    assert st['segments_dropped'] == 3, r.stderr
    assert st['parse_errors'] == 0, r.stderr


def drop_reasons(stderr):
    """The last "segments dropped" breakdown (DEBUG), as a dict."""
    lines = [ln for ln in stderr.splitlines()
             if 'reporter: segments dropped: ' in ln]
    assert lines, stderr
    inner = lines[-1].split('(', 1)[1].rstrip(')')
    out = {}
    for part in inner.split(', '):
        name, _, n = part.rpartition(' ')
        out[name] = int(n)
    return out


def test_kafka_queue_full(tmp_path, plain_server):
    """librdkafka's queue, bounded through SW_KAFKA_REPORTER_CONFIG_*, is
    full while no broker answers: new segments are dropped at once and
    counted as such; the rest count as undelivered at exit."""
    env = proto_env('kafka', '127.0.0.1:%d' % free_port(), 'kfull',
                    SW_AGENT_FLUSH_TIMEOUT_MS='500',
                    SW_AGENT_LOGGING_LEVEL='DEBUG',
                    **{'SW_KAFKA_REPORTER_CONFIG_queue.buffering.max.messages':
                       '4'})
    code = ("import sys, time, urllib.request\n"
            "for i in range(20):\n"
            "    urllib.request.urlopen('http://127.0.0.1:%s/x' % "
            "sys.argv[1]).read()\n"
            "    time.sleep(0.02)\n")
    r = subprocess.run([PYTHON, '-c', code, str(plain_server)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    st = stats(r.stderr)
    assert st['segments_sent'] == 0, r.stderr
    assert st['segments_dropped'] == 20, r.stderr
    why = drop_reasons(r.stderr)
    # Properties and keepAlive take two of the four places. A full queue
    # backs the segments off like a failed call: the reporter's queue
    # keeps them, and at exit they are dropped unsent.
    assert why['kafka queue full'] >= 1, r.stderr
    assert (why['kafka queue full'] + why['kafka undelivered'] +
            why['unsent at exit'] == 20), r.stderr


def test_kafka_library_unusable(tmp_path, plain_server):
    """A librdkafka.so.1 without the functions needed: one error, init
    fails, the application is unaffected."""
    fake = tmp_path / 'lib'
    fake.mkdir()
    src = tmp_path / 'empty.c'
    src.write_text('int sw_fake_rdkafka;\n')
    subprocess.run(['cc', '-shared', '-fPIC', '-o',
                    str(fake / 'librdkafka.so.1'), str(src)], check=True)
    env = proto_env('kafka', '127.0.0.1:9', 'fakekafka',
                    LD_LIBRARY_PATH=str(fake))
    code = ("import sys, urllib.request\n"
            "for i in range(3):\n"
            "    urllib.request.urlopen('http://127.0.0.1:%s/x' % "
            "sys.argv[1]).read()\n")
    r = subprocess.run([PYTHON, '-c', code, str(plain_server)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if 'librdkafka.so.1' in ln]
    assert len(errors) == 1 and 'Kafka reporting is off' in errors[0], \
        r.stderr


def test_kafka_exit_flushes(tmp_path, plain_server):
    """A short-lived client's segments reach the broker through the exit
    flush."""
    if not os.path.exists(KafkaBackend.binary()):
        pytest.skip('kafka_consume not built')
    with KafkaBackend(tmp_path) as kb:
        env = proto_env('kafka', kb.bootstrap, 'kq',
                        SW_AGENT_LOGGING_LEVEL='DEBUG')
        code = ("import sys, urllib.request\n"
                "for i in range(20):\n"
                "    urllib.request.urlopen('http://127.0.0.1:%s/x' % "
                "sys.argv[1]).read()\n")
        r = subprocess.run([PYTHON, '-c', code, str(plain_server)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        st = stats(r.stderr)
        assert st['segments_sent'] == 20, r.stderr
        assert st['segments_dropped'] == 0, r.stderr
        kb.wait_for(lambda c: len(c.segments()) >= 20, timeout=WAIT)
        assert len({s['traceSegmentId'] for s in kb.segments()}) == 20
