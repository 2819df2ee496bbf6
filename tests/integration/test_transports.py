"""The same end-to-end assertions over every transport: gRPC, HTTP (the
OAP's REST receiver, served by the collector with a strict JSON parser)
and Kafka (librdkafka's mock cluster, tests/helpers/kafka_consume), plus
the file transport.

A python3 http.server under the preload serves a burst of requests from
the (uninstrumented) test, then a preloaded urllib client makes a few
more, one of them with a hand-built sw8 header. What the backend decoded
is brought to one canonical form (swtest_collector.canonical_segment) and
checked field by field: service, instance, operation, peer, tags, span
ids, references, instance properties, keepAlive.
"""
import base64
import http.server
import json
import os
import socket
import subprocess
import threading

import pytest

from conftest import (PYTHON, free_port, http_requests, sw_env, wait_port,
                      wait_until)
from swtest_collector import (Collector, KafkaBackend, canonical_properties,
                              canonical_segment)

PROTOCOLS = ['grpc', 'http', 'kafka']
BURST = 60          # requests from the test itself
CLIENT_REQS = 5     # requests from the preloaded client
WAIT = 90           # cap for anything to arrive (busy machines)

SW8_TRACE = 'swtesttrace0000000000000000000001'
SW8_PARENT = 'swtestparentsegment00000000000001'


def b64(s):
    return base64.b64encode(s.encode()).decode()


def sw8_header(port):
    return '-'.join(['1', b64(SW8_TRACE), b64(SW8_PARENT), '3',
                     b64('upstream-svc'), b64('upstream-1'), b64('/front'),
                     b64('127.0.0.1:%d' % port)])


# -------------------------------------------------------------- backends

@pytest.fixture(params=PROTOCOLS)
def backend(request, tmp_path):
    proto = request.param
    if proto == 'kafka':
        if not os.path.exists(KafkaBackend.binary()):
            pytest.skip('kafka_consume not built')
        b = KafkaBackend(tmp_path).start()
    else:
        b = Collector(tmp_path, ['--log-requests'],
                      http=(proto == 'http')).start()
    b.proto = proto
    yield b
    b.stop()


def transport_env(b, service, instance, **extra):
    """The environment of a traced child reporting to backend b."""
    env = sw_env(None, service, SW_AGENT_INSTANCE_NAME=instance)
    for k in list(env):
        if k.startswith('SW_KAFKA_'):
            del env[k]
    env.update({k: str(v) for k, v in extra.items()})
    if b.proto == 'grpc':
        env['SW_AGENT_COLLECTOR_BACKEND_SERVICES'] = b.backend
    elif b.proto == 'http':
        env['SW_AGENT_PROTOCOL'] = 'http'
        env['SW_AGENT_COLLECTOR_BACKEND_SERVICES'] = b.http_backend
    elif b.proto == 'kafka':
        env['SW_AGENT_PROTOCOL'] = 'kafka'
        env['SW_KAFKA_BOOTSTRAP_SERVERS'] = b.bootstrap
    return env


def stats_at_exit(stderr):
    """The counters of the last "stats:" line (SW_AGENT_LOGGING_LEVEL=DEBUG
    prints one at exit)."""
    lines = [ln for ln in stderr.splitlines() if ' stats: ' in ln]
    assert lines, 'no stats line at exit:\n' + stderr
    out = {}
    for word in lines[-1].split(' stats: ', 1)[1].split():
        k, _, v = word.partition('=')
        out[k] = int(v)
    return out


# -------------------------------------------------------------- apps

CLIENT = r"""
import os, sys, urllib.error, urllib.request
print(os.getpid(), flush=True)
port, sw8 = int(sys.argv[1]), sys.argv[2]
base = 'http://127.0.0.1:%d' % port
for i in range(3):
    urllib.request.urlopen(base + '/index.txt?c=%d' % i).read()
try:
    urllib.request.urlopen(base + '/missing?c=3')
except urllib.error.HTTPError as e:
    assert e.code == 404
req = urllib.request.Request(base + '/index.txt?c=4', headers={'sw8': sw8})
urllib.request.urlopen(req).read()
"""


def start_server(procs, env, tmp_path):
    www = tmp_path / 'www'
    www.mkdir(exist_ok=True)
    (www / 'index.txt').write_text('hello\n' * 10)
    port = free_port()
    p = procs.start([PYTHON, '-m', 'http.server', '--bind', '127.0.0.1',
                     '--directory', str(www), str(port)], env=env)
    wait_port(port, p)
    return p, port


def run_client(port, env):
    r = subprocess.run([PYTHON, '-c', CLIENT, str(port), sw8_header(port)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r.pid = int(r.stdout.split()[0])
    return r


def tags(span):
    return {t['key']: t['value'] for t in span['tags']}


# -------------------------------------------------------------- checks

def by_service(segs, service):
    return [s for s in segs if s['service'] == service]


def check_traffic(segs, props, pings, server_pid, client_pid, port):
    """Every assertion on what one server and one client reported."""
    server = by_service(segs, 'tx-server')
    client = by_service(segs, 'tx-client')
    assert len(server) == BURST + CLIENT_REQS, [s['spans'] for s in server]
    assert len(client) == CLIENT_REQS
    ids = [s['traceSegmentId'] for s in segs]
    assert len(ids) == len(set(ids))

    # Server: one entry span per request.
    entries = {}
    for s in server:
        assert s['serviceInstance'] == 'tx-server-1'
        assert s['isSizeLimited'] is False
        assert len(s['traceSegmentId']) == 32
        assert len(s['spans']) == 1
        sp = s['spans'][0]
        assert sp['spanId'] == 0 and sp['parentSpanId'] == -1
        assert sp['spanType'] == 'Entry'
        assert sp['spanLayer'] == 'Http'
        assert sp['componentId'] == 49
        assert sp['peer'].startswith('127.0.0.1:')
        assert sp['endTime'] >= sp['startTime'] > 1600000000000
        assert sp['logs'] == [] and sp['skipAnalysis'] is False
        t = tags(sp)
        assert t['http.method'] == 'GET'
        assert t['http.url'].startswith('http://127.0.0.1:%d/' % port)
        query = t['http.url'].split('?', 1)[1]
        entries[query] = (s, sp)
    for i in range(BURST):
        s, sp = entries['n=%d' % i]
        assert sp['operationName'] == '/index.txt'
        assert tags(sp)['http.status_code'] == '200'
        assert sp['isError'] is False
        assert sp['refs'] == []
        assert len(s['traceId']) == 32

    # Client: one exit span per request, each its own segment.
    exits = {}
    for s in client:
        assert s['serviceInstance'] == 'tx-client-1'
        assert len(s['spans']) == 1
        sp = s['spans'][0]
        assert sp['spanId'] == 0 and sp['parentSpanId'] == -1
        assert sp['spanType'] == 'Exit'
        assert sp['spanLayer'] == 'Http'
        assert sp['componentId'] == 2
        assert sp['peer'] == '127.0.0.1:%d' % port
        assert sp['refs'] == []
        t = tags(sp)
        assert t['http.method'] == 'GET'
        exits[t['http.url'].split('?', 1)[1]] = (s, sp)
    assert sorted(exits) == ['c=%d' % i for i in range(CLIENT_REQS)]

    for i in range(CLIENT_REQS):
        q = 'c=%d' % i
        cs, csp = exits[q]
        ss, ssp = entries[q]
        op = '/missing' if i == 3 else '/index.txt'
        status = '404' if i == 3 else '200'
        assert csp['operationName'] == ssp['operationName'] == op
        assert tags(csp)['http.status_code'] == status
        assert tags(ssp)['http.status_code'] == status
        assert tags(csp)['http.url'] == tags(ssp)['http.url']
        assert csp['isError'] is False and ssp['isError'] is False
        if i < 4:
            # The client's own sw8: the server's entry continues the
            # client's trace, under its exit span.
            assert ss['traceId'] == cs['traceId']
            assert ssp['refs'] == [{
                'refType': 'CrossProcess',
                'traceId': cs['traceId'],
                'parentTraceSegmentId': cs['traceSegmentId'],
                'parentSpanId': 0,
                'parentService': 'tx-client',
                'parentServiceInstance': 'tx-client-1',
                'parentEndpoint': op,
                'networkAddressUsedAtPeer': '127.0.0.1:%d' % port,
            }]
        else:
            # The hand-built sw8 is kept (nothing injected over it).
            assert ss['traceId'] == SW8_TRACE
            assert ssp['refs'] == [{
                'refType': 'CrossProcess',
                'traceId': SW8_TRACE,
                'parentTraceSegmentId': SW8_PARENT,
                'parentSpanId': 3,
                'parentService': 'upstream-svc',
                'parentServiceInstance': 'upstream-1',
                'parentEndpoint': '/front',
                'networkAddressUsedAtPeer': '127.0.0.1:%d' % port,
            }]

    # Instance properties, then keepAlive, from both.
    for svc, inst, pid in (('tx-server', 'tx-server-1', server_pid),
                           ('tx-client', 'tx-client-1', client_pid)):
        mine = [p for p in props if p['service'] == svc]
        assert mine, props
        p = mine[0]
        assert p['serviceInstance'] == inst
        assert p['layer'] == ''
        kv = [(x['key'], x['value']) for x in p['properties']]
        assert kv[0] == ('language', 'C')
        assert kv[1] == ('OS Name', os.uname().sysname)
        assert kv[2] == ('Process No.', str(pid))
        assert ('agent', 'swpreload') in kv
        if pings is not None:
            assert {'service': svc, 'serviceInstance': inst} in [
                {'service': k['service'],
                 'serviceInstance': k['serviceInstance']} for k in pings]


def received(b):
    segs = [canonical_segment(s) for s in b.segments()]
    props = [canonical_properties(p) for p in b.properties()]
    return segs, props, b.keepalives()


def enough(segs, props, pings):
    return (len(by_service(segs, 'tx-server')) >= BURST + CLIENT_REQS and
            len(by_service(segs, 'tx-client')) >= CLIENT_REQS and
            {'tx-server', 'tx-client'} <= {p['service'] for p in props} and
            (pings is None or
             {'tx-server', 'tx-client'} <= {k['service'] for k in pings}))


# -------------------------------------------------------------- tests

def test_server_and_client(backend, procs, tmp_path):
    b = backend
    server, port = start_server(
        procs, transport_env(b, 'tx-server', 'tx-server-1'), tmp_path)
    assert http_requests(port, ['/index.txt?n=%d' % i
                                for i in range(BURST)]) == [200] * BURST
    cenv = transport_env(b, 'tx-client', 'tx-client-1',
                         SW_AGENT_LOGGING_LEVEL='DEBUG')
    r = run_client(port, cenv)

    # The short-lived client flushed at exit, and its stats say so.
    st = stats_at_exit(r.stderr)
    assert st['segments_sent'] == CLIENT_REQS, r.stderr
    assert st['segments_dropped'] == 0, r.stderr
    assert st['backend_errors'] == 0, r.stderr
    # Nothing of the agent's own traffic (librdkafka's threads included)
    # was taken for the application's.
    assert st['parse_errors'] == 0, r.stderr
    assert st['spans_created'] == CLIENT_REQS, r.stderr

    b.wait_for(lambda c: enough(*received(c)), timeout=WAIT)
    segs, props, pings = received(b)
    check_traffic(segs, props, pings, server.pid, r.pid, port)

    # Only the Kafka transport maps librdkafka.
    with open('/proc/%d/maps' % server.pid) as f:
        maps = f.read()
    assert ('librdkafka' in maps) == (b.proto == 'kafka')
    assert server.poll() is None

    if b.proto == 'http':
        reqs = [r for r in b.http_requests() if r['service'] == 'tx-server']
        posts = [r for r in reqs if r['path'] == '/v3/segments']
        assert all(r['contentType'] == 'application/json' for r in reqs)
        assert all(r['status'] == 200 for r in reqs)
        assert sum(r['items'] for r in posts) == BURST + CLIENT_REQS
        # Segments are batched into JSON arrays, not posted one by one...
        assert len(posts) < BURST + CLIENT_REQS, posts
        # ...and everything went over one kept-alive connection.
        assert len({r['clientPort'] for r in reqs}) == 1, reqs
        paths = {r['path'] for r in reqs}
        assert {'/v3/management/reportProperties',
                '/v3/management/keepAlive'} <= paths


def raw_get(port, target):
    """A request whose target is raw bytes (not valid UTF-8, say)."""
    with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
        s.sendall(b'GET ' + target + b' HTTP/1.1\r\nHost: t\r\n'
                  b'Connection: close\r\n\r\n')
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b' ', 2)[1])


def test_bytes_that_are_not_utf8(backend, procs, tmp_path):
    """A path with bytes that are not UTF-8 reaches every backend with
    U+FFFD in their place (a backend's protobuf or JSON parser would
    reject the whole call otherwise), and does not take the other
    segments of its batch down with it."""
    b = backend
    server, port = start_server(
        procs, transport_env(b, 'tx-utf8', 'tx-utf8-1'), tmp_path)
    assert raw_get(port, b'/caf\xc3\xa9/\xff\x80x?q=\xc3') == 404
    assert http_requests(port, ['/index.txt?after=1']) == [200]
    b.wait_for(lambda c: len(c.segments()) >= 2, timeout=WAIT)
    ops = sorted(canonical_segment(s)['spans'][0]['operationName']
                 for s in b.segments())
    assert ops == ['/caf\u00e9/\ufffd\ufffdx', '/index.txt']
    bad = [canonical_segment(s)['spans'][0] for s in b.segments()
           if 'caf' in s['spans'][0]['operationName']][0]
    assert tags(bad)['http.url'] == (
        'http://t/caf\u00e9/\ufffd\ufffdx?q=\ufffd')
    assert tags(bad)['http.status_code'] == '404'


def test_file_transport(procs, tmp_path):
    """Both processes append to one file; every line is JSON in the
    collector's format, and the same assertions hold."""
    path = tmp_path / 'segments.jsonl'

    def env(service, instance):
        e = sw_env(None, service, SW_AGENT_INSTANCE_NAME=instance,
                   SW_AGENT_PROTOCOL='file', SW_AGENT_FILE_PATH=str(path))
        return e

    server, port = start_server(procs, env('tx-server', 'tx-server-1'),
                                tmp_path)
    assert http_requests(port, ['/index.txt?n=%d' % i
                                for i in range(BURST)]) == [200] * BURST
    r = run_client(port, env('tx-client', 'tx-client-1'))
    assert 'error' not in r.stderr.lower(), r.stderr

    def read():
        recs = []
        if path.exists():
            for line in path.read_text().splitlines(keepends=True):
                if line.endswith('\n'):
                    recs.append(json.loads(line))
        segs = [canonical_segment(x['data']) for x in recs
                if x['type'] == 'segment']
        props = [canonical_properties(x['data']) for x in recs
                 if x['type'] == 'properties']
        return recs, segs, props

    wait_until(lambda: enough(*read()[1:], None), timeout=WAIT,
               what='segments in the file')
    recs, segs, props = read()
    assert {x['type'] for x in recs} == {'segment', 'properties'}
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    check_traffic(segs, props, None, server.pid, r.pid, port)
    with open('/proc/%d/maps' % server.pid) as f:
        maps = f.read()
    assert 'librdkafka' not in maps


class _Fail(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 500."""
    protocol_version = 'HTTP/1.1'

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(500)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def failing_server():
    """An uninstrumented server in the test runner that answers 500."""
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Fail)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_kafka_topics_keys_and_config(tmp_path, failing_server):
    """Namespace and topic overrides, record keys, and
    SW_KAFKA_REPORTER_CONFIG_* (a bad one: one warning, skipped)."""
    if not os.path.exists(KafkaBackend.binary()):
        pytest.skip('kafka_consume not built')
    with KafkaBackend(tmp_path, ['-N', 'ns1', '-S', 'my-segs']) as b:
        b.proto = 'kafka'
        env = transport_env(b, 'kc', 'kc-1',
                            SW_KAFKA_NAMESPACE='ns1',
                            SW_KAFKA_TOPIC_SEGMENT='my-segs',
                            **{'SW_KAFKA_REPORTER_CONFIG_linger.ms': '1',
                               'SW_KAFKA_REPORTER_CONFIG_no.such.thing': 'x'})
        code = ("import urllib.request, urllib.error\n"
                "for i in range(3):\n"
                "    try:\n"
                "        urllib.request.urlopen('http://127.0.0.1:%d/k')\n"
                "    except urllib.error.HTTPError as e:\n"
                "        assert e.code == 500\n") % failing_server
        r = subprocess.run([PYTHON, '-c', code], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stderr.count('SW_KAFKA_REPORTER_CONFIG_no.such.thing') == 1, \
            r.stderr
        assert 'linger.ms' not in r.stderr, r.stderr
        b.wait_for(lambda c: len(c.segments()) >= 3 and c.properties()
                   and c.keepalives(), timeout=WAIT)
        recs = b.records()
        segs = [x for x in recs if x['type'] == 'segment']
        assert {x['topic'] for x in segs} == {'ns1-my-segs'}
        for x in segs:
            assert x['key'] == x['data']['traceSegmentId']
            sp = x['data']['spans'][0]
            assert sp['spanType'] == 'Exit'
            assert sp['isError'] is True
        mgmt = [x for x in recs if x['type'] != 'segment']
        assert {x['topic'] for x in mgmt} == {'ns1-skywalking-managements'}
        assert [x['key'] for x in mgmt if x['type'] == 'properties'][0] == \
            'register-kc-1'
        assert {x['key'] for x in mgmt if x['type'] == 'keepalive'} == \
            {'kc-1'}


DAEMONISH = r"""
import os, sys, time, urllib.request
url, mine = sys.argv[1], sys.argv[2]
urllib.request.urlopen(url + '?i=0').read()
time.sleep(0.5)
# As a daemon does: close every descriptor it did not open itself...
os.closerange(3, 4096)
# ...and open files of its own, which get the lowest free numbers, the
# segment file's old one among them.
fds = [os.open('%s.%d' % (mine, i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
               0o600) for i in range(16)]
for i in range(1, 4):
    urllib.request.urlopen(url + '?i=%d' % i).read()
time.sleep(0.5)
for fd in fds:
    os.write(fd, b'app\n')
    os.close(fd)
"""


def test_file_transport_survives_closed_fds(procs, tmp_path):
    """The application closes the segment file's descriptor and reuses
    the number for its own file: segments keep going to the segment file
    (reopened), never into the application's."""
    seg_path = tmp_path / 'segments.jsonl'
    app_path = tmp_path / 'app.txt'
    www = tmp_path / 'www'
    www.mkdir()
    (www / 'f').write_text('x')
    port = free_port()
    srv = procs.start([PYTHON, '-m', 'http.server', '--bind', '127.0.0.1',
                       '--directory', str(www), str(port)],
                      env=dict(sw_env(None, 'plain'), LD_PRELOAD=''))
    wait_port(port, srv)
    env = sw_env(None, 'daemonish', SW_AGENT_PROTOCOL='file',
                 SW_AGENT_FILE_PATH=str(seg_path))
    r = subprocess.run([PYTHON, '-c', DAEMONISH,
                        'http://127.0.0.1:%d/f' % port, str(app_path)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for i in range(16):
        assert (tmp_path / ('app.txt.%d' % i)).read_text() == 'app\n'

    def segs():
        out = []
        for line in seg_path.read_text().splitlines(keepends=True):
            rec = json.loads(line)
            if rec['type'] == 'segment':
                out.append(rec['data'])
        return out
    wait_until(lambda: len(segs()) >= 4, timeout=WAIT, what='4 segments')
    urls = sorted(tags(canonical_segment(s)['spans'][0])['http.url']
                  for s in segs())
    assert urls == ['http://127.0.0.1:%d/f?i=%d' % (port, i)
                    for i in range(4)]
    assert 'reopening it' in r.stderr, r.stderr
