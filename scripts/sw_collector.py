#!/usr/bin/python3
"""sw_collector.py: a local SkyWalking collector for tests and demos.

It speaks the backend side of the SkyWalking v3 agent protocol and writes
whatever it receives as JSON lines, so that tests can assert on exactly
what an agent sent and people can watch traces without running an OAP.

  sw_collector.py [--host H] [--grpc-port N] [--http-port N] [--out FILE]
                  [--port-file FILE] [--auth TOKEN] [--fail-status CODE]
                  [--http-fail-status N] [--log-requests]
                  [--discard] [--print] [--proto-dir DIR]
  sw_collector.py tree FILE

Serving: the project's proto/ tree is compiled with grpc_tools.protoc into
a temporary directory at start, so the collector always matches the
.proto files next to it. gRPC serves TraceSegmentReportService (collect,
collectInSync), ManagementService (reportInstanceProperties, keepAlive),
LogReportService and MeterReportService. With --http-port the OAP's REST
endpoints are served too (/v3/segment, /v3/segments,
/v3/management/reportProperties, /v3/management/keepAlive, /v3/logs).
They are stricter than the OAP on purpose: the body must be sent as
Content-Type: application/json (else 415), and it is parsed with
google.protobuf.json_format against the project's protos without
ignoring unknown fields, so a misspelt field name is a 400 (with the
parser's message) rather than silently lost data. The list endpoints
want a JSON array.

Every decoded message is appended to --out as one line
  {"type": "segment"|"properties"|"keepalive"|"log"|"meter",
   "data": <MessageToDict(msg, preserving_proto_field_name=True)>}
and flushed at once. As in any proto3 JSON mapping, fields holding their
default value (0, "", false, the first enum value) are left out and int64
values are strings.

--port-file receives {"grpc": N[, "http": M]} once the ports are bound
(written to a temporary name and renamed, so a reader never sees half).
--auth rejects gRPC calls whose `authentication` metadata differs with
PERMISSION_DENIED, as the OAP does. --fail-status answers segment reports
with that gRPC status (a name such as UNAVAILABLE, or a number) instead,
and REST segment reports with HTTP 503. --http-fail-status N answers
every REST request (management too) with HTTP status N instead.
--log-requests adds one line per REST request,
  {"type": "http_request", "data": {"path", "contentType", "items",
   "service", "clientPort", "status"}}
(items: messages in the body; service: that of the first one), so tests
can see how an agent batches and whether it reuses its connection.
--discard acknowledges segments without decoding or writing them, for
benchmarks. --print writes a one-line summary of each message to stdout.

`tree FILE` prints the traces in a JSON lines file as trees: segments are
grouped by traceId and nested across processes through their refs.

SIGTERM and SIGINT stop the collector cleanly (exit status 0).
"""

import argparse
import glob
import importlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.join(os.path.dirname(HERE), 'proto')

# Messages as large as the OAP's sharing server accepts.
MAX_MESSAGE = 50 * 1024 * 1024


# ---------------------------------------------------------------- protos

class Protos:
    """The generated message classes, compiled from proto/ at start."""

    def __init__(self, proto_dir):
        from grpc_tools import protoc
        self.tmp = tempfile.mkdtemp(prefix='sw_collector_')
        files = sorted(glob.glob(os.path.join(proto_dir, '**', '*.proto'),
                                 recursive=True))
        if not files:
            raise SystemExit('sw_collector: no .proto files in ' + proto_dir)
        include = os.path.join(os.path.dirname(protoc.__file__), '_proto')
        rc = protoc.main(['protoc', '-I' + proto_dir, '-I' + include,
                          '--python_out=' + self.tmp,
                          '--grpc_python_out=' + self.tmp] + files)
        if rc != 0:
            raise SystemExit('sw_collector: protoc failed on ' + proto_dir)
        # The generated modules import each other as top-level packages
        # named after the proto directories ("common", ...).
        sys.path.insert(0, self.tmp)
        self.common = self._load('Common_pb2')
        self.command = self._load('Command_pb2')
        self.tracing = self._load('Tracing_pb2')
        self.management = self._load('Management_pb2')
        self.logging = self._load('Logging_pb2')
        self.meter = self._load('Meter_pb2')

    def _load(self, base):
        """Imports a generated module by its file name, wherever protoc
        put it (it turns "language-agent" into "language_agent")."""
        hits = glob.glob(os.path.join(self.tmp, '**', base + '.py'),
                         recursive=True)
        if not hits:
            return None
        path = hits[0]
        rel = os.path.relpath(path, self.tmp)[:-3]
        name = rel.replace(os.sep, '.')
        try:
            mod = importlib.import_module(name)
            if os.path.abspath(getattr(mod, '__file__', '') or '') == path:
                return mod
        except ImportError:
            pass
        # The package name is taken by another module (the "logging"
        # directory versus Python's logging): load the file directly.
        spec = importlib.util.spec_from_file_location(
            'sw_collector_gen.' + name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- sink

class Sink:
    """Where every received message goes: the JSON lines file, stdout."""

    def __init__(self, out_path, do_print):
        from google.protobuf.json_format import MessageToDict
        self._to_dict = MessageToDict
        self._lock = threading.Lock()
        self._out = open(out_path, 'a', encoding='utf-8') if out_path else None
        self._print = do_print
        self.counts = {}

    def record(self, kind, msg):
        data = self._to_dict(msg, preserving_proto_field_name=True)
        line = json.dumps({'type': kind, 'data': data}, sort_keys=True)
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if self._out:
                self._out.write(line + '\n')
                self._out.flush()
            if self._print:
                print(summary(kind, data), flush=True)

    def record_dict(self, kind, data):
        """Writes a line that is not a protobuf message."""
        line = json.dumps({'type': kind, 'data': data}, sort_keys=True)
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if self._out:
                self._out.write(line + '\n')
                self._out.flush()

    def count(self, kind, n):
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def close(self):
        with self._lock:
            if self._out:
                self._out.close()
                self._out = None


def summary(kind, d):
    """One line describing a received message."""
    who = '%s/%s' % (d.get('service', ''), d.get('serviceInstance', ''))
    if kind == 'segment':
        spans = d.get('spans', [])
        ops = ', '.join('%s %s%s' % (s.get('spanType', 'Entry'),
                                     s.get('operationName', ''),
                                     ' !' if s.get('isError') else '')
                        for s in spans)
        return 'segment %s trace %s from %s: %d span%s: %s' % (
            d.get('traceSegmentId', ''), d.get('traceId', ''), who,
            len(spans), '' if len(spans) == 1 else 's', ops)
    if kind == 'properties':
        props = ', '.join('%s=%s' % (p.get('key', ''), p.get('value', ''))
                          for p in d.get('properties', []))
        return 'properties from %s: %s' % (who, props)
    if kind == 'keepalive':
        return 'keepalive from %s' % who
    return '%s: %s' % (kind, json.dumps(d, sort_keys=True))


# ---------------------------------------------------------------- gRPC

def status_code(value):
    """A grpc.StatusCode from a name (UNAVAILABLE) or a number (14)."""
    import grpc
    text = str(value).strip()
    for code in grpc.StatusCode:
        if text.isdigit() and code.value[0] == int(text):
            return code
        if text.upper() == code.name:
            return code
    raise argparse.ArgumentTypeError('unknown gRPC status: ' + text)


class GrpcFrontend:
    """The gRPC services, built from generic handlers so that --discard
    can receive segments as raw bytes."""

    def __init__(self, protos, sink, args):
        import grpc
        self.grpc = grpc
        self.p = protos
        self.sink = sink
        self.auth = args.auth
        self.fail = status_code(args.fail_status) if args.fail_status else None
        self.discard = args.discard
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[('grpc.max_receive_message_length', MAX_MESSAGE),
                     ('grpc.max_send_message_length', MAX_MESSAGE)])
        self.server.add_generic_rpc_handlers(self._handlers())
        self.port = self.server.add_insecure_port(
            '%s:%d' % (args.host, args.grpc_port))
        if self.port == 0:
            raise SystemExit('sw_collector: cannot bind gRPC port %d'
                             % args.grpc_port)

    def _check(self, context, segments):
        if self.auth is not None:
            md = dict(context.invocation_metadata())
            if md.get('authentication') != self.auth:
                context.abort(self.grpc.StatusCode.PERMISSION_DENIED,
                              'authentication failed')
        if segments and self.fail is not None:
            context.abort(self.fail, 'failing as told by --fail-status')

    def _commands(self):
        return self.p.command.Commands()

    def collect(self, requests, context):
        if self.fail is not None:
            # Read the whole stream before failing it, as a server that
            # fails while storing would: answering first and resetting
            # the stream the client is still writing makes some clients
            # (libcurl 7.88) lose the answer.
            for _ in requests:
                pass
        self._check(context, True)
        if self.discard:
            n = 0
            for _ in requests:
                n += 1
            self.sink.count('segment', n)
        else:
            for seg in requests:
                self.sink.record('segment', seg)
        return self._commands()

    def collect_in_sync(self, request, context):
        self._check(context, True)
        if self.discard:
            self.sink.count('segment', 1)
            return self._commands()
        coll = self.p.tracing.SegmentCollection.FromString(request)
        for seg in coll.segments:
            self.sink.record('segment', seg)
        return self._commands()

    def properties(self, request, context):
        self._check(context, False)
        self.sink.record('properties', request)
        return self._commands()

    def keepalive(self, request, context):
        self._check(context, False)
        self.sink.record('keepalive', request)
        return self._commands()

    def logs(self, requests, context):
        self._check(context, False)
        for log in requests:
            self.sink.record('log', log)
        return self._commands()

    def meters(self, requests, context):
        self._check(context, False)
        for m in requests:
            self.sink.record('meter', m)
        return self._commands()

    def meter_batches(self, requests, context):
        self._check(context, False)
        for coll in requests:
            for m in coll.meterData:
                self.sink.record('meter', m)
        return self._commands()

    def _handlers(self):
        grpc = self.grpc
        p = self.p
        out = p.command.Commands.SerializeToString
        raw = (lambda b: b)
        seg_in = raw if self.discard else p.tracing.SegmentObject.FromString
        handlers = [
            grpc.method_handlers_generic_handler(
                'skywalking.v3.TraceSegmentReportService', {
                    'collect': grpc.stream_unary_rpc_method_handler(
                        self.collect, request_deserializer=seg_in,
                        response_serializer=out),
                    'collectInSync': grpc.unary_unary_rpc_method_handler(
                        self.collect_in_sync, request_deserializer=raw,
                        response_serializer=out),
                }),
            grpc.method_handlers_generic_handler(
                'skywalking.v3.ManagementService', {
                    'reportInstanceProperties':
                        grpc.unary_unary_rpc_method_handler(
                            self.properties,
                            request_deserializer=(
                                p.management.InstanceProperties.FromString),
                            response_serializer=out),
                    'keepAlive': grpc.unary_unary_rpc_method_handler(
                        self.keepalive,
                        request_deserializer=(
                            p.management.InstancePingPkg.FromString),
                        response_serializer=out),
                }),
        ]
        if p.logging is not None:
            handlers.append(grpc.method_handlers_generic_handler(
                'skywalking.v3.LogReportService', {
                    'collect': grpc.stream_unary_rpc_method_handler(
                        self.logs,
                        request_deserializer=p.logging.LogData.FromString,
                        response_serializer=out),
                }))
        if p.meter is not None:
            handlers.append(grpc.method_handlers_generic_handler(
                'skywalking.v3.MeterReportService', {
                    'collect': grpc.stream_unary_rpc_method_handler(
                        self.meters,
                        request_deserializer=p.meter.MeterData.FromString,
                        response_serializer=out),
                    'collectBatch': grpc.stream_unary_rpc_method_handler(
                        self.meter_batches,
                        request_deserializer=(
                            p.meter.MeterDataCollection.FromString),
                        response_serializer=out),
                }))
        return handlers

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop(grace=1).wait(5)


# ---------------------------------------------------------------- HTTP

class HttpFrontend:
    """The OAP's REST receiver: JSON bodies, an empty Commands ({}) back.
    Like the OAP's, it checks no authentication."""

    def __init__(self, protos, sink, args):
        from google.protobuf.json_format import Parse, ParseDict
        p = protos
        front = self
        self.fail = args.fail_status is not None
        self.fail_all = args.http_fail_status
        self.log_requests = args.log_requests
        routes = {
            '/v3/segment': ('segment', p.tracing.SegmentObject, False),
            '/v3/segments': ('segment', p.tracing.SegmentObject, True),
            '/v3/management/reportProperties':
                ('properties', p.management.InstanceProperties, False),
            '/v3/management/keepAlive':
                ('keepalive', p.management.InstancePingPkg, False),
        }
        if p.logging is not None:
            routes['/v3/logs'] = ('log', p.logging.LogData, True)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, fmt, *a):
                pass

            def _reply(self, code, body):
                data = body.encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _log(self, path, ctype, items, status):
                if not front.log_requests:
                    return
                service = ''
                if items and isinstance(items[0], dict):
                    service = str(items[0].get('service', ''))
                sink.record_dict('http_request', {
                    'path': path, 'contentType': ctype,
                    'items': len(items), 'service': service,
                    'clientPort': self.client_address[1],
                    'status': status})

            def do_POST(self):
                n = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(n) if n > 0 else b''
                path = self.path.split('?', 1)[0]
                ctype = self.headers.get('Content-Type') or ''
                route = routes.get(path)
                try:
                    obj = json.loads(body or b'null')
                except ValueError:
                    obj = None
                items = obj if isinstance(obj, list) else [obj]
                status, reply, msgs = self._handle(route, ctype, body)
                self._log(path, ctype, items, status)
                for m in msgs:
                    sink.record(route[0], m)
                self._reply(status, reply)

            def _handle(self, route, ctype, body):
                """(status, reply body, decoded messages)."""
                if route is None:
                    return 404, '{"error": "no such endpoint"}', []
                kind, cls, is_list = route
                if front.fail_all is not None:
                    return (front.fail_all, '{"error": "failing as told"}',
                            [])
                if kind == 'segment' and front.fail:
                    return 503, '{"error": "failing as told"}', []
                mime = ctype.split(';', 1)[0].strip().lower()
                if mime != 'application/json' and not mime.endswith('+json'):
                    return (415, json.dumps(
                        {'error': 'Content-Type %r is not JSON' % ctype}), [])
                try:
                    text = body.decode('utf-8')
                    if is_list:
                        items = json.loads(text)
                        if not isinstance(items, list):
                            raise ValueError('a JSON array is expected')
                        msgs = [ParseDict(o, cls()) for o in items]
                    else:
                        msgs = [Parse(text, cls())]
                except Exception as e:  # noqa: BLE001 - report any parse error
                    return 400, json.dumps({'error': str(e)}), []
                return 200, '{}', msgs

        self.server = ThreadingHTTPServer((args.host, args.http_port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       name='http', daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- tree

def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def tree(path, out=sys.stdout):
    """Prints the segments of a JSON lines file as one tree per trace."""
    segs = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get('type') == 'segment':
                segs.append(rec.get('data', {}))

    traces = {}
    for s in segs:
        traces.setdefault(s.get('traceId', ''), []).append(s)

    for trace_id, tsegs in traces.items():
        # Nodes are spans keyed by (segment id, span id); children come
        # from parentSpanId inside a segment and from refs across them.
        nodes, children, roots = {}, {}, []
        for s in tsegs:
            sid = s.get('traceSegmentId', '')
            for sp in s.get('spans', []):
                nodes[(sid, _int(sp.get('spanId')))] = (s, sp)
        for (sid, span_id), (s, sp) in nodes.items():
            parent = None
            psid = _int(sp.get('parentSpanId', 0))
            if psid >= 0 and (sid, psid) in nodes:
                parent = (sid, psid)
            else:
                for ref in sp.get('refs', []):
                    key = (ref.get('parentTraceSegmentId', ''),
                           _int(ref.get('parentSpanId')))
                    if key in nodes:
                        parent = key
                        break
            if parent is None:
                roots.append((sid, span_id))
            else:
                children.setdefault(parent, []).append((sid, span_id))

        def start_of(key):
            return _int(nodes[key][1].get('startTime'))

        print('trace %s (%d segment%s)' % (trace_id, len(tsegs),
                                           '' if len(tsegs) == 1 else 's'),
              file=out)

        def show(key, depth):
            s, sp = nodes[key]
            tags = {t.get('key'): t.get('value') for t in sp.get('tags', [])}
            dur = _int(sp.get('endTime')) - _int(sp.get('startTime'))
            parts = ['  ' * (depth + 1) + '%s %s [%s]' % (
                sp.get('spanType', 'Entry'), sp.get('operationName', ''),
                s.get('service', ''))]
            if sp.get('peer'):
                parts.append('peer=%s' % sp['peer'])
            if 'http.status_code' in tags:
                parts.append('status=%s' % tags['http.status_code'])
            parts.append('%dms' % dur)
            if sp.get('isError'):
                parts.append('ERROR')
            if sp.get('refs'):
                ref = sp['refs'][0]
                parts.append('<- %s' % ref.get('parentService', ''))
            print(' '.join(parts), file=out)
            for c in sorted(children.get(key, []), key=start_of):
                show(c, depth + 1)

        for r in sorted(roots, key=start_of):
            show(r, 0)
    return 0


# ---------------------------------------------------------------- main

def write_port_file(path, ports):
    tmp = '%s.tmp%d' % (path, os.getpid())
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(ports, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog='sw_collector.py',
        description='A local SkyWalking collector (see the module doc).')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--grpc-port', type=int, default=11800,
                    help='0 picks a free port')
    ap.add_argument('--http-port', type=int, default=None,
                    help='also serve the REST endpoints (0: a free port)')
    ap.add_argument('--out', help='append received messages as JSON lines')
    ap.add_argument('--port-file', help='write {"grpc": N} once bound')
    ap.add_argument('--auth', default=None,
                    help='required `authentication` metadata value')
    ap.add_argument('--fail-status', default=None,
                    help='answer segment reports with this gRPC status')
    ap.add_argument('--http-fail-status', type=int, default=None,
                    help='answer every REST request with this HTTP status')
    ap.add_argument('--log-requests', action='store_true',
                    help='write a line per REST request (http_request)')
    ap.add_argument('--discard', action='store_true',
                    help='acknowledge segments without decoding them')
    ap.add_argument('--print', dest='do_print', action='store_true',
                    help='print a summary line per received message')
    ap.add_argument('--proto-dir', default=DEFAULT_PROTO_DIR)
    args = ap.parse_args(argv)
    if args.fail_status is not None:
        status_code(args.fail_status)
    return args


def serve(argv):
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    protos = Protos(args.proto_dir)
    sink = Sink(args.out, args.do_print)
    frontends = []
    try:
        g = GrpcFrontend(protos, sink, args)
        frontends.append(g)
        ports = {'grpc': g.port}
        if args.http_port is not None:
            h = HttpFrontend(protos, sink, args)
            frontends.append(h)
            ports['http'] = h.port
        for fe in frontends:
            fe.start()
        if args.port_file:
            write_port_file(args.port_file, ports)
        print('sw_collector: listening on %s %s' % (args.host, json.dumps(ports)),
              file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for fe in frontends:
            try:
                fe.stop()
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        sink.close()
        protos.cleanup()
    return 0


def main(argv):
    if argv and argv[0] == 'tree':
        if len(argv) != 2:
            print('usage: sw_collector.py tree FILE', file=sys.stderr)
            return 2
        return tree(argv[1])
    return serve(argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
