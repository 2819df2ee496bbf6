#!/usr/bin/env bash
# The demo, from a fresh checkout: installs dependencies, builds, starts the
# bundled local collector, runs two services under the preload (a frontend
# that calls a backend, both python3 http.server-based), sends a few
# requests with the curl tool (also preloaded), and prints the traces the
# collector received as a tree.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SW_BUILD_DIR:-$root/build}
py=/usr/bin/python3

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_port() {
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1
  done; return 1
}

echo "== starting the local collector"
$py "$root/scripts/sw_collector.py" --grpc-port 0 --port-file "$work/ports.json" \
  --out "$work/traces.jsonl" &
pids+=($!)
wait_file "$work/ports.json"
grpc=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc"])' "$work/ports.json")
echo "   gRPC on 127.0.0.1:$grpc"

export SW_AGENT_COLLECTOR_BACKEND_SERVICES=127.0.0.1:$grpc
preload() { LD_PRELOAD="$build/libswpreload.so" SW_AGENT_NAME="$1" "${@:2}"; }

backend=$(free_port); frontend=$(free_port)
mkdir -p "$work/www" && echo "hello from the backend" > "$work/www/data.txt"
echo "== backend  (python3 http.server) on :$backend"
preload backend $py -m http.server --bind 127.0.0.1 --directory "$work/www" "$backend" \
  >/dev/null 2>&1 &
pids+=($!)
echo "== frontend (python3, calls the backend with urllib) on :$frontend"
cat > "$work/frontend.py" <<PYEOF
import http.server, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = urllib.request.urlopen("http://127.0.0.1:$backend/data.txt").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", $frontend), H).serve_forever()
PYEOF
preload frontend $py "$work/frontend.py" >/dev/null 2>&1 &
pids+=($!)
wait_port "$backend"; wait_port "$frontend"

echo "== 3 requests: curl (preloaded) -> frontend -> backend"
for i in 1 2 3; do
  preload curl-client curl -s "http://127.0.0.1:$frontend/api/hello?i=$i" >/dev/null
done
sleep 2
echo
echo "== traces received by the collector"
$py "$root/scripts/sw_collector.py" tree "$work/traces.jsonl"
