"""swtest_collector: start, read and stop scripts/sw_collector.py in tests.

    from swtest_collector import Collector

    with Collector(tmp_path) as col:          # or col.start() ... col.stop()
        run_something(backend='127.0.0.1:%d' % col.port)
        segs = col.wait_for(lambda c: len(c.lines('segment')) >= 3)
        assert segs.lines('segment')[0]['traceId'] == ...

The collector listens on a free port on 127.0.0.1 and appends what it
receives to <tmpdir>/collector-<n>.jsonl. lines(type) returns the decoded
"data" objects of that type in arrival order. As in any proto3 JSON
mapping, fields with their default value (0, "", false, the first enum
value such as spanType Entry) are absent, and int64 values (startTime,
endTime, Log.time) are strings.

KafkaBackend has the same reading interface over tests/helpers/
kafka_consume (librdkafka's mock cluster): segments(), properties(),
keepalives(), wait_for(). canonical_segment() and canonical_properties()
turn a message from either into one form with every field present, so
one set of assertions fits every transport.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

PYTHON = '/usr/bin/python3'

# Generous caps: the machine running the tests may be busy.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def source_dir():
    """The repository root: SW_TEST_SOURCE_DIR, else relative to here."""
    env = os.environ.get('SW_TEST_SOURCE_DIR')
    if env:
        return env
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def collector_script():
    return os.path.join(source_dir(), 'scripts', 'sw_collector.py')


class Collector:
    """One sw_collector.py process, owned by the test that started it."""

    _seq = 0

    def __init__(self, tmpdir, extra_args=(), http=False):
        Collector._seq += 1
        self.tmpdir = str(tmpdir)
        name = 'collector-%d-%d' % (os.getpid(), Collector._seq)
        self.out_path = os.path.join(self.tmpdir, name + '.jsonl')
        self.port_path = os.path.join(self.tmpdir, name + '.ports')
        self.log_path = os.path.join(self.tmpdir, name + '.log')
        self.extra_args = list(extra_args)
        self.http = http
        self.proc = None
        self.ports = {}
        self._log = None

    # -------------------------------------------------------- lifecycle

    def start(self):
        """Starts the collector and waits until its ports are bound."""
        for p in (self.out_path, self.port_path):
            if os.path.exists(p):
                os.unlink(p)
        args = [PYTHON, collector_script(), '--host', '127.0.0.1',
                '--grpc-port', '0', '--port-file', self.port_path,
                '--out', self.out_path]
        if self.http:
            args += ['--http-port', '0']
        args += self.extra_args
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(args, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if os.path.exists(self.port_path):
                try:
                    with open(self.port_path) as f:
                        self.ports = json.load(f)
                    break
                except ValueError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError('collector exited with %s:\n%s'
                                   % (self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('collector did not start:\n' + self.log())
            time.sleep(0.05)
        return self

    def stop(self):
        """Stops the collector (SIGTERM, then SIGKILL) and reaps it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass

    # -------------------------------------------------------- access

    @property
    def port(self):
        """The gRPC port."""
        return self.ports['grpc']

    @property
    def http_port(self):
        return self.ports['http']

    @property
    def http_backend(self):
        """host:port of the REST endpoints."""
        return '127.0.0.1:%d' % self.http_port

    def http_requests(self):
        """The http_request lines (with --log-requests)."""
        return self.lines('http_request')

    @property
    def backend(self):
        """host:port, as SW_AGENT_COLLECTOR_BACKEND_SERVICES wants it."""
        return '127.0.0.1:%d' % self.port

    def records(self):
        """Every complete JSON line written so far, as dicts."""
        out = []
        try:
            with open(self.out_path, encoding='utf-8') as f:
                for line in f:
                    if not line.endswith('\n'):
                        break  # being written right now
                    out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def lines(self, type=None):  # noqa: A002 - the field is called type
        """The "data" objects of the given type (all types if None)."""
        return [r['data'] for r in self.records()
                if type is None or r['type'] == type]

    def segments(self):
        return self.lines('segment')

    def properties(self):
        return self.lines('properties')

    def keepalives(self):
        return self.lines('keepalive')

    def wait_for(self, predicate, timeout=60.0, interval=0.05):
        """Polls until predicate(self) is true; returns self. Raises
        AssertionError with what was received when the cap is reached."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return self
            if time.monotonic() > deadline:
                raise AssertionError(
                    'collector condition not met after %.0f s; received '
                    '%d record(s); collector log:\n%s'
                    % (timeout, len(self.records()), self.log()))
            time.sleep(interval)

    def log(self):
        """The collector's own stdout and stderr so far."""
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''


def build_dir():
    return os.environ.get('SW_TEST_BUILD_DIR',
                          os.path.join(source_dir(), 'build'))


class KafkaBackend:
    """tests/helpers/kafka_consume: a mock Kafka cluster and a consumer of
    the segment and management topics, owned by the test that started
    it. bootstrap is its address, once started."""

    def __init__(self, tmpdir, extra_args=()):
        self.tmpdir = str(tmpdir)
        self.extra_args = list(extra_args)
        self.proc = None
        self.bootstrap = None
        self._lines = []
        self._lock = threading.Lock()
        self._reader = None
        self.log_path = os.path.join(self.tmpdir,
                                     'kafka-%d.log' % os.getpid())
        self._log = None

    @staticmethod
    def binary():
        return os.path.join(build_dir(), 'kafka_consume')

    def start(self):
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(
            [self.binary(), '-t', '600'] + self.extra_args,
            stdout=subprocess.PIPE, stderr=self._log,
            stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith('bootstrap '):
            self.stop()
            raise RuntimeError('kafka_consume did not start:\n' + self.log())
        self.bootstrap = line.split(None, 1)[1].strip()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for raw in self.proc.stdout:
            try:
                rec = json.loads(raw.decode('utf-8', errors='replace'))
            except ValueError:
                continue
            with self._lock:
                self._lines.append(rec)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        self.proc.stdout.close()
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def records(self):
        """Every record so far: {"topic", "key", "type", "data"}."""
        with self._lock:
            return list(self._lines)

    def lines(self, type=None):  # noqa: A002 - as Collector.lines
        return [r['data'] for r in self.records()
                if type is None or r['type'] == type]

    def segments(self):
        return self.lines('segment')

    def properties(self):
        return self.lines('properties')

    def keepalives(self):
        return self.lines('keepalive')

    def wait_for(self, predicate, timeout=60.0, interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return self
            if time.monotonic() > deadline:
                raise AssertionError(
                    'kafka condition not met after %.0f s; received %d '
                    'record(s); log:\n%s'
                    % (timeout, len(self.records()), self.log()))
            time.sleep(interval)

    def log(self):
        try:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''


# ---------------------------------------------------------------- canonical

def _int(v):
    return int(v) if v not in (None, '') else 0


def _pairs(items):
    return [{'key': kv.get('key', ''), 'value': kv.get('value', '')}
            for kv in items or []]


def canonical_segment(d):
    """A SegmentObject dict, from MessageToDict (defaults absent, int64
    as strings), the agent's own JSON or kafka_consume (everything
    present), with every field present and numbers as ints."""
    spans = []
    for sp in d.get('spans', []):
        refs = []
        for r in sp.get('refs', []) or []:
            refs.append({
                'refType': r.get('refType', 'CrossProcess'),
                'traceId': r.get('traceId', ''),
                'parentTraceSegmentId': r.get('parentTraceSegmentId', ''),
                'parentSpanId': _int(r.get('parentSpanId')),
                'parentService': r.get('parentService', ''),
                'parentServiceInstance': r.get('parentServiceInstance', ''),
                'parentEndpoint': r.get('parentEndpoint', ''),
                'networkAddressUsedAtPeer':
                    r.get('networkAddressUsedAtPeer', ''),
            })
        spans.append({
            'spanId': _int(sp.get('spanId')),
            'parentSpanId': _int(sp.get('parentSpanId')),
            'startTime': _int(sp.get('startTime')),
            'endTime': _int(sp.get('endTime')),
            'refs': refs,
            'operationName': sp.get('operationName', ''),
            'peer': sp.get('peer', ''),
            'spanType': sp.get('spanType', 'Entry'),
            'spanLayer': sp.get('spanLayer', 'Unknown'),
            'componentId': _int(sp.get('componentId')),
            'isError': bool(sp.get('isError', False)),
            'tags': _pairs(sp.get('tags')),
            'logs': [{'time': _int(lg.get('time')),
                      'data': _pairs(lg.get('data'))}
                     for lg in sp.get('logs', []) or []],
            'skipAnalysis': bool(sp.get('skipAnalysis', False)),
        })
    return {
        'traceId': d.get('traceId', ''),
        'traceSegmentId': d.get('traceSegmentId', ''),
        'spans': spans,
        'service': d.get('service', ''),
        'serviceInstance': d.get('serviceInstance', ''),
        'isSizeLimited': bool(d.get('isSizeLimited', False)),
    }


def canonical_properties(d):
    return {
        'service': d.get('service', ''),
        'serviceInstance': d.get('serviceInstance', ''),
        'properties': _pairs(d.get('properties')),
        'layer': d.get('layer', ''),
    }


def free_port():
    """A port that was free a moment ago (for an address that must not
    answer: bind, read the port, close)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


if __name__ == '__main__':
    # Manual use: start a collector in a temporary directory and print
    # what arrives until interrupted.
    import tempfile
    with tempfile.TemporaryDirectory() as d, Collector(d) as c:
        print('collector on', c.backend, file=sys.stderr)
        seen = 0
        try:
            while True:
                recs = c.records()
                for r in recs[seen:]:
                    print(json.dumps(r))
                seen = len(recs)
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
