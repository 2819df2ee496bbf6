"""The reporter (libswreporter.so) against the local collector over gRPC.

tests/helpers/reporter_driver dlopen()s the reporter and feeds it
fabricated segments the way the preload object's reporter thread would:
segment i has an Entry root (span 0) and an Exit child (span 1); odd
segments carry a CrossProcess ref; every fifth is an error with a span log.
The collector writes what it decoded as JSON lines, which are checked
field by field here.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import wait_until  # noqa: E402
from swtest_collector import Collector, free_port  # noqa: E402

BUILD = os.environ.get('SW_TEST_BUILD_DIR', '')
DRIVER = os.path.join(BUILD, 'reporter_driver')
REPORTER = os.path.join(BUILD, 'libswreporter.so')

pytestmark = pytest.mark.skipif(
    not (os.path.exists(DRIVER) and os.path.exists(REPORTER)),
    reason='reporter_driver / libswreporter.so not built in '
           'SW_TEST_BUILD_DIR')

RUN_TIMEOUT = 180


class Run:
    """The outcome of one reporter_driver run."""

    def __init__(self, proc, stdout, stderr):
        self.pid = proc.pid
        self.returncode = proc.returncode
        self.stdout = stdout
        self.stderr = stderr
        self.stats = {}
        for line in stdout.splitlines():
            k, sep, v = line.partition('=')
            if sep and v.strip().lstrip('-').isdigit():
                self.stats[k.strip()] = int(v)

    def __getitem__(self, k):
        return self.stats[k]

    def __repr__(self):
        return 'rc=%s stats=%s\nstderr:\n%s' % (self.returncode, self.stats,
                                               self.stderr)


def run_driver(backend, nseg, extra_env=None, args=()):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('SW_AGENT_'):
            del env[k]
    env.update({
        'SW_AGENT_NAME': 'drv-svc',
        'SW_AGENT_INSTANCE_NAME': 'drv-1',
        'SW_AGENT_COLLECTOR_BACKEND_SERVICES': backend,
        'SW_AGENT_FLUSH_TIMEOUT_MS': '5000',
    })
    env.update(extra_env or {})
    proc = subprocess.Popen([DRIVER, '-n', str(nseg)] + list(args)
                            + [REPORTER], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError('reporter_driver hung:\n' + err)
    run = Run(proc, out, err)
    assert run.returncode == 0, run
    return run


def props_list(p):
    return [(kv.get('key', ''), kv.get('value', ''))
            for kv in p.get('properties', [])]


def check_segment(seg, i, service, instance):
    """Checks one decoded SegmentObject against what the driver made."""
    assert seg['traceId'] == 'drvtrace%024d' % i
    assert seg['traceSegmentId'] == 'drvseg%026d' % i
    assert seg['service'] == service
    assert seg['serviceInstance'] == instance
    assert 'isSizeLimited' not in seg  # false
    spans = seg['spans']
    assert len(spans) == 2
    root, child = spans
    error = i % 5 == 4
    status = '500' if error else '200'

    # Root: spanId 0 and spanType Entry are proto3 defaults, so absent.
    assert 'spanId' not in root
    assert root['parentSpanId'] == -1
    assert 'spanType' not in root
    assert root['spanLayer'] == 'Http'
    assert root['componentId'] == 49
    assert root['operationName'] == '/api/items/%d' % (i % 10)
    assert root['peer'] == '127.0.0.1:50000'
    assert int(root['endTime']) - int(root['startTime']) == 7
    assert root['tags'] == [
        {'key': 'http.method', 'value': 'GET'},
        {'key': 'http.url',
         'value': 'http://127.0.0.1:8080/api/items/%d?q=%d' % (i % 10, i)},
        {'key': 'http.status_code', 'value': status},
    ]
    if error:
        assert root['isError'] is True
        assert root['logs'] == [{
            'time': root['endTime'],
            'data': [{'key': 'event', 'value': 'error'},
                     {'key': 'message', 'value': 'upstream failed'}],
        }]
    else:
        assert 'isError' not in root
        assert 'logs' not in root
    if i % 2 == 1:
        assert root['refs'] == [{
            # refType CrossProcess is the default value: absent.
            'traceId': 'drvtrace%024d' % i,
            'parentTraceSegmentId': 'drvparent%023d' % i,
            'parentSpanId': 3,
            'parentService': 'upstream-svc',
            'parentServiceInstance': 'upstream-1',
            'parentEndpoint': '/front',
            'networkAddressUsedAtPeer': '127.0.0.1:8080',
        }]
    else:
        assert 'refs' not in root

    assert child['spanId'] == 1
    assert 'parentSpanId' not in child  # 0
    assert child['spanType'] == 'Exit'
    assert child['spanLayer'] == 'Http'
    assert child['componentId'] == 2
    assert child['operationName'] == '/backend'
    assert child['peer'] == '10.0.0.2:9000'
    assert int(child['startTime']) == int(root['startTime']) + 2
    assert int(child['endTime']) == int(root['startTime']) + 5
    assert child['tags'] == [
        {'key': 'http.method', 'value': 'POST'},
        {'key': 'http.url', 'value': 'http://10.0.0.2:9000/backend'},
        {'key': 'http.status_code', 'value': status},
    ]
    assert 'refs' not in child


def test_segments_properties_keepalive(tmp_path):
    n = 25
    with Collector(tmp_path) as col:
        run = run_driver(col.backend, n,
                         {'SW_AGENT_NAMESPACE': 'prod'})
        assert run['segments_sent'] == n, run
        assert run['segments_dropped'] == 0, run
        assert run['segments_partial'] == 0, run
        assert run['backend_errors'] == 0, run
        col.wait_for(lambda c: len(c.lines('segment')) >= n)

        segs = sorted(col.lines('segment'), key=lambda s: s['traceId'])
        assert len(segs) == n
        for i, seg in enumerate(segs):
            check_segment(seg, i, 'drv-svc|prod', 'drv-1')

        props = col.lines('properties')
        assert len(props) == 1
        p = props[0]
        assert p['service'] == 'drv-svc|prod'
        assert p['serviceInstance'] == 'drv-1'
        kv = props_list(p)
        keys = [k for k, _ in kv]
        assert kv[0] == ('language', 'C')
        assert kv[1] == ('OS Name', os.uname().sysname)
        assert kv[2] == ('Process No.', str(run.pid))
        assert kv[3] == ('hostname', socket.gethostname())
        ipv4 = [v for k, v in kv if k == 'ipv4']
        assert ipv4, kv
        for a in ipv4:
            socket.inet_aton(a)
        assert keys[4:4 + len(ipv4)] == ['ipv4'] * len(ipv4)
        rest = kv[4 + len(ipv4):]
        assert rest[0] == ('agent', 'swpreload')
        assert rest[1][0] == 'agent_version' and rest[1][1]
        assert rest[2] == ('namespace', 'prod')
        assert len(rest) == 3

        pings = col.lines('keepalive')
        assert pings == [{'service': 'drv-svc|prod',
                          'serviceInstance': 'drv-1'}]

        # The heartbeat runs first: properties, then keepAlive, then data.
        types = [r['type'] for r in col.records()]
        assert types[:2] == ['properties', 'keepalive']


def test_many_segments_batched(tmp_path):
    n = 3000
    with Collector(tmp_path) as col:
        run = run_driver(col.backend, n, args=['-c', '200'])
        assert run['segments_sent'] == n, run
        assert run['segments_dropped'] == 0, run
        col.wait_for(lambda c: len(c.lines('segment')) >= n)
        ids = [s['traceSegmentId'] for s in col.lines('segment')]
        assert len(ids) == n
        assert len(set(ids)) == n


def test_auth_match(tmp_path):
    with Collector(tmp_path, ['--auth', 's3cret']) as col:
        run = run_driver(col.backend, 5,
                         {'SW_AGENT_AUTHENTICATION': 's3cret'})
        assert run['segments_sent'] == 5, run
        assert run['backend_errors'] == 0, run
        col.wait_for(lambda c: len(c.lines('segment')) >= 5)
        assert len(col.lines('properties')) == 1


def test_auth_mismatch_drops(tmp_path):
    n = 10
    with Collector(tmp_path, ['--auth', 's3cret']) as col:
        run = run_driver(col.backend, n,
                         {'SW_AGENT_AUTHENTICATION': 'wrong'})
        assert run['segments_sent'] == 0, run
        assert run['segments_dropped'] == n, run
        assert run['backend_errors'] >= 2, run  # heartbeat and segments
        assert 'grpc-status 7' in run.stderr, run
        # Logged once, however many calls failed.
        assert run.stderr.count('WARNING') == 1, run
        assert col.records() == []


def test_no_auth_header_rejected(tmp_path):
    with Collector(tmp_path, ['--auth', 's3cret']) as col:
        run = run_driver(col.backend, 3)
        assert run['segments_sent'] == 0, run
        assert run['segments_dropped'] == 3, run
        assert col.lines('segment') == []


def test_fail_status_drops_segments(tmp_path):
    n = 7
    with Collector(tmp_path, ['--fail-status', 'UNAVAILABLE']) as col:
        run = run_driver(col.backend, n)
        assert run['segments_sent'] == 0, run
        assert run['segments_dropped'] == n, run
        assert run['backend_errors'] >= 1, run
        assert 'grpc-status 14' in run.stderr, run
        assert col.lines('segment') == []
        # Management calls are not failed by --fail-status.
        assert len(col.lines('properties')) == 1
        assert len(col.lines('keepalive')) == 1


def test_collector_absent(tmp_path):
    n = 20
    run = run_driver('127.0.0.1:%d' % free_port(), n)
    assert run['segments_sent'] == 0, run
    assert run['segments_dropped'] == n, run
    assert run['backend_errors'] >= 1, run
    assert run.stderr.count('WARNING') == 1, run


def test_flush_deadline_with_silent_backend(tmp_path):
    """A backend that accepts connections but never answers: flush()
    gives up at its deadline, not at libcurl's 10 s call timeout."""
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        run = run_driver('127.0.0.1:%d' % port, 10,
                         {'SW_AGENT_FLUSH_TIMEOUT_MS': '1000'}, args=['-f'])
        elapsed = time.monotonic() - t0
    assert run['segments_sent'] == 0, run
    assert run['segments_dropped'] == 10, run
    assert run['flush_ms'] >= 900, run
    # Well under the 10 s a call may take outside flush().
    assert run['flush_ms'] < 6000, run
    assert elapsed < 60, run


def test_flush_sends_pending(tmp_path):
    """Everything still queued or half-assembled at exit goes out in
    flush(), without any tick."""
    with Collector(tmp_path) as col:
        run = run_driver(col.backend, 40, args=['-f'])
        assert run['segments_sent'] == 40, run
        col.wait_for(lambda c: len(c.lines('segment')) >= 40)


def test_backend_restart_recovers(tmp_path):
    """The collector goes away and comes back on the same port while the
    reporter is running: calls fail for a while (counted, dropped), then
    the reporter reconnects and delivers again."""
    n = 60
    a = Collector(tmp_path).start()
    port = a.port
    env = dict(os.environ)
    for k in list(env):
        if k.startswith('SW_AGENT_'):
            del env[k]
    env.update({'SW_AGENT_NAME': 'drv-svc', 'SW_AGENT_INSTANCE_NAME': 'drv-1',
                'SW_AGENT_COLLECTOR_BACKEND_SERVICES': a.backend})
    # 2 segments every 200 ms for about 6 s, then wait for the rest.
    proc = subprocess.Popen([DRIVER, '-n', str(n), '-c', '4', '-p', '200',
                             '-w', '60000', REPORTER], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    b = None
    try:
        a.wait_for(lambda c: len(c.lines('segment')) >= 2)
        a.stop()
        b = Collector(tmp_path, ['--grpc-port', str(port)])
        try:
            b.start()
        except RuntimeError:
            pytest.skip('port %d was taken by someone else' % port)
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if b is not None:
            b.stop()
    run = Run(proc, out, err)
    assert run.returncode == 0, run
    got_a = len(a.lines('segment'))
    got_b = len(b.lines('segment'))
    assert got_a >= 2
    assert got_b >= 1, run
    assert run['segments_sent'] == got_a + got_b, run
    assert run['segments_sent'] + run['segments_dropped'] == n, run
    assert 'backend reachable again' in run.stderr, run


SINK = os.path.join(BUILD, 'bench_grpc_sink')


def test_calls_leave_in_full_segments(tmp_path):
    """A call's frames leave corked: libcurl writes one HTTP/2 frame of
    at most 16 KiB per system call, and uncorked every write would be a
    TCP segment of its own. bench_grpc_sink counts the segments and bytes
    its kernel received (TCP_INFO) once the connection ends."""
    if not os.path.exists(SINK):
        pytest.skip('bench_grpc_sink not built')
    pf = str(tmp_path / 'sink.json')
    sink = subprocess.Popen([SINK, '-f', pf], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: os.path.exists(pf) or sink.poll() is not None,
                   what='the sink\'s port file')
        port = json.load(open(pf))['grpc']
        n = 20000
        run = run_driver('127.0.0.1:%d' % port, n)
    finally:
        sink.terminate()
        out, err = sink.communicate(timeout=30)
    assert run['segments_sent'] == n, run
    stats = dict(kv.split('=') for kv in out.split())
    stats = {k: int(v) for k, v in stats.items()}
    assert stats['messages'] >= n, (out, err)  # and the instance's
    # About 10 MB: uncorked, at most 16,393 bytes a segment (a frame and
    # its header); corked, they fill the loopback's 64 KiB segments, less
    # the odd partial one before each wait and the acknowledgements.
    assert stats['bytes_in'] > 8 * 1000 * 1000, out
    per_seg = stats['bytes_in'] / stats['segs_in']
    assert per_seg > 24 * 1024, out
