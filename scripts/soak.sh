#!/usr/bin/env bash
# Soak test: nginx (master + 1 worker, one static 1 KiB file) under the
# preload, loaded by wrk from outside for a long time, reporting to the
# local collector in --discard mode (segments acknowledged, not decoded).
#
#   scripts/soak.sh [options] [seconds]        (default 600 seconds)
#     --preload PATH   libswpreload.so to test (default build/libswpreload.so)
#     --json FILE      also write the figures as JSON (used by the tests)
#     --warmup S       seconds of load before the reference sample
#                      (default: a tenth of the run, between 10 and 60)
#     --connections N  wrk connections (default 16)
#
# Every 5 seconds it samples the worker's VmRSS and open descriptors
# (/proc/PID/status, /proc/PID/fd). At the end it stops nginx gracefully,
# so that the worker flushes and prints the agent's counters
# (SW_AGENT_LOGGING_LEVEL=DEBUG prints them every 60 s and at exit), and
# checks:
#   - the worker never died and nginx exited cleanly;
#   - RSS is flat after warm-up: the last sample under load is at most
#     SW_SOAK_RSS_MARGIN_KB (default 8192) above the sample taken at the end
#     of the warm-up;
#   - descriptors do not leak: the worker holds as many when idle after
#     the load as it did when idle before it;
#   - every span is accounted for. nginx serving static files makes one
#     single-span segment per request, so at exit
#       spans_created == spans_dropped_ring + segments_sent + segments_dropped
#     (spans_dropped_ring also counts records drained while no reporter was
#     loaded; a segment still open or queued when the exit flush deadline
#     passed would break the identity, which is why the flush is given
#     SW_AGENT_FLUSH_TIMEOUT_MS=20000).
# Exit status 0 when every check passed, 1 otherwise, 2 on a setup error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3

secs=600
preload=$root/build/libswpreload.so
json=""
warmup=""
conns=16
while [ $# -gt 0 ]; do
  case "$1" in
    --preload) preload=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) secs=$1; shift ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$warmup" ]; then
  warmup=$((secs / 10))
  [ "$warmup" -lt 10 ] && warmup=10
  [ "$warmup" -gt 60 ] && warmup=60
fi
margin_kb=${SW_SOAK_RSS_MARGIN_KB:-8192}
preload=$(readlink -f "$preload")
[ -f "$preload" ] || { echo "soak: no $preload (build first)" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
for tool in "$nginx" wrk "$py"; do
  command -v "$tool" >/dev/null ||
    { echo "soak: $tool not found (scripts/setup.sh --bench)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sw-soak.XXXXXX")
collector_pid="" nginx_pid="" wrk_pid=""
cleanup() {
  for p in $wrk_pid $nginx_pid $collector_pid; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "${SW_SOAK_KEEP:-}" ]; then
    echo "soak: files kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

free_port() {
  "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Polls "$@" every 0.1 s for at most $1 seconds.
wait_for() {
  local cap=$1; shift
  local i
  for ((i = 0; i < cap * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- collector
"$py" "$root/scripts/sw_collector.py" --host 127.0.0.1 --grpc-port 0 \
  --port-file "$work/ports.json" --out "$work/collector.jsonl" --discard \
  >"$work/collector.log" 2>&1 </dev/null &
collector_pid=$!
wait_for 60 test -s "$work/ports.json" ||
  { cat "$work/collector.log" >&2; echo "soak: collector did not start" >&2; exit 2; }
grpc_port=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["grpc"])' \
  "$work/ports.json")

# ---------------------------------------------------------------- nginx
port=$(free_port)
mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/www/soak.txt"
user=""
[ "$(id -u)" -eq 0 ] && user="user root;"
cat >"$work/nginx.conf" <<EOF
$user
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
  }
}
EOF
env LD_PRELOAD="$preload" SW_AGENT_NAME=soak-nginx \
  SW_AGENT_COLLECTOR_BACKEND_SERVICES="127.0.0.1:$grpc_port" \
  SW_AGENT_LOGGING_LEVEL=DEBUG SW_AGENT_FLUSH_TIMEOUT_MS=20000 \
  "$nginx" -c "$work/nginx.conf" -p "$work" \
  >/dev/null 2>"$work/nginx.stderr" </dev/null &
nginx_pid=$!
wait_for 30 port_open "$port" ||
  { cat "$work/nginx.stderr" >&2; echo "soak: nginx did not start" >&2; exit 2; }
# Helpers that read /proc never fail: a process may vanish at any time.
worker_of() {
  { awk '{print $1}' "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null ||
    pgrep -P "$nginx_pid" 2>/dev/null || true; } | head -n 1
}
wait_for 30 test -n "$(worker_of)" || { echo "soak: no nginx worker" >&2; exit 2; }
worker=$(worker_of)

rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
fds_of() { { ls "/proc/$1/fd" 2>/dev/null || true; } | wc -l; }

# One request first, so that the worker's reporter thread is running and
# connected (its properties reach the collector) before the reference
# samples are taken.
prime() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /soak.txt HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n' >&3
  cat <&3 >/dev/null
  exec 3<&-
}
prime
has_properties() { grep -q '"type": "properties"' "$work/collector.jsonl" 2>/dev/null; }
wait_for 60 has_properties ||
  { echo "soak: the worker never reported to the collector" >&2; exit 2; }
sleep 1
rss_start=$(rss_of "$worker")
fds_idle_before=$(fds_of "$worker")

# ---------------------------------------------------------------- load
echo "soak: ${secs}s of wrk -c$conns against nginx worker $worker (warm-up ${warmup}s)" >&2
wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/soak.txt" \
  >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
t0=$(date +%s)
samples=$work/samples.tsv
printf 't_s\trss_kb\tfds\n' >"$samples"
crashed=0
rss_warm=""
while kill -0 "$wrk_pid" 2>/dev/null; do
  sleep 5
  kill -0 "$wrk_pid" 2>/dev/null || break
  t=$(($(date +%s) - t0))
  if [ ! -d "/proc/$worker" ]; then
    crashed=1
    echo "soak: the nginx worker $worker died at ${t}s" >&2
    break
  fi
  r=$(rss_of "$worker") f=$(fds_of "$worker")
  printf '%s\t%s\t%s\n' "$t" "$r" "$f" >>"$samples"
  if [ -z "$rss_warm" ] && [ "$t" -ge "$warmup" ]; then
    rss_warm=$r
    fds_warm=$f
  fi
  rss_end=$r fds_end=$f
  if [ $((t % 60)) -lt 5 ]; then
    echo "soak: ${t}s rss=${r}kB fds=$f" >&2
  fi
done
wait "$wrk_pid" || true
wrk_pid=""

# ---------------------------------------------------------------- wind-down
# Idle again: the client connections are closed by now.
sleep 2
fds_idle_after=$(fds_of "$worker")
rss_idle_after=$(rss_of "$worker")
[ -d "/proc/$worker" ] || crashed=1
# SIGQUIT: graceful shutdown; the worker exit()s, which runs the exit flush
# and prints the final counters.
kill -QUIT "$nginx_pid" 2>/dev/null || true
nginx_rc=0
for ((i = 0; i < 600; i++)); do
  kill -0 "$nginx_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$nginx_pid" 2>/dev/null; then
  echo "soak: nginx did not stop within 60 s" >&2
  nginx_rc=124
else
  wait "$nginx_pid" || nginx_rc=$?
fi
nginx_pid=""
kill -TERM "$collector_pid" 2>/dev/null || true
wait "$collector_pid" 2>/dev/null || true
collector_pid=""

# ---------------------------------------------------------------- report
export SOAK_SECS=$secs SOAK_WARMUP=$warmup SOAK_WORKER=$worker
export SOAK_RSS_START=$rss_start SOAK_RSS_WARM=${rss_warm:-} SOAK_RSS_END=${rss_end:-}
export SOAK_RSS_IDLE_AFTER=${rss_idle_after:-} SOAK_FDS_WARM=${fds_warm:-} SOAK_FDS_END=${fds_end:-}
export SOAK_FDS_BEFORE=$fds_idle_before SOAK_FDS_AFTER=${fds_idle_after:-}
export SOAK_CRASHED=$crashed SOAK_NGINX_RC=$nginx_rc SOAK_MARGIN_KB=$margin_kb
export SOAK_JSON=$json SOAK_WORK=$work SOAK_CONNS=$conns
"$py" - <<'EOF'
import json, os, re, sys

e = os.environ
work = e["SOAK_WORK"]
worker = e["SOAK_WORKER"]
num = lambda k: int(e[k]) if e.get(k, "").strip() else None

stderr = open(os.path.join(work, "nginx.stderr"), errors="replace").read()
stats_lines = [l for l in stderr.splitlines()
               if l.startswith("sw[%s]: debug: stats:" % worker)]
counters = {}
if stats_lines:
    counters = {k: int(v) for k, v in
                re.findall(r"(\w+)=(\d+)", stats_lines[-1].split("stats:", 1)[1])}
wrk = open(os.path.join(work, "wrk.txt"), errors="replace").read()
m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", wrk)
requests = int(m.group(1)) if m else None
m = re.search(r"Requests/sec:\s+([\d.]+)", wrk)
rps = float(m.group(1)) if m else None
m = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
non2xx = int(m.group(1)) if m else 0
m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
sock_errors = sum(int(x) for x in m.groups()) if m else 0
samples = []
for line in open(os.path.join(work, "samples.tsv")).read().splitlines()[1:]:
    t, r, f = line.split("\t")
    samples.append({"t_s": int(t), "rss_kb": int(r or 0), "fds": int(f or 0)})
crash_lines = [l for l in stderr.splitlines()
               if re.search(r"exited on signal|AddressSanitizer|runtime error", l)]

res = {
    "seconds": int(e["SOAK_SECS"]), "warmup_s": int(e["SOAK_WARMUP"]),
    "connections": int(e["SOAK_CONNS"]),
    "requests": requests, "requests_per_s": rps, "non_2xx": non2xx,
    "socket_errors": sock_errors,
    "rss_start_kb": num("SOAK_RSS_START"), "rss_warm_kb": num("SOAK_RSS_WARM"),
    "rss_end_kb": num("SOAK_RSS_END"), "rss_idle_after_kb": num("SOAK_RSS_IDLE_AFTER"),
    "rss_max_kb": max((s["rss_kb"] for s in samples), default=None),
    "fds_idle_before": num("SOAK_FDS_BEFORE"), "fds_idle_after": num("SOAK_FDS_AFTER"),
    "fds_warm": num("SOAK_FDS_WARM"), "fds_end": num("SOAK_FDS_END"),
    "fds_load_min": min((s["fds"] for s in samples), default=None),
    "fds_load_max": max((s["fds"] for s in samples), default=None),
    "samples": len(samples), "stats_lines": len(stats_lines),
    "counters": counters, "crashed": int(e["SOAK_CRASHED"]),
    "nginx_exit_status": int(e["SOAK_NGINX_RC"]), "crash_lines": crash_lines,
}
c = counters
accounted = None
if c:
    accounted = c.get("spans_dropped_ring", 0) + c.get("segments_sent", 0) + \
        c.get("segments_dropped", 0)
res["spans_accounted"] = accounted

fail = []
if res["crashed"] or crash_lines:
    fail.append("the worker crashed")
if res["nginx_exit_status"] != 0:
    fail.append("nginx exited with status %d" % res["nginx_exit_status"])
if not requests:
    fail.append("wrk served no requests")
if not c:
    fail.append("no final stats line from the worker")
elif accounted != c.get("spans_created"):
    fail.append("accounting: spans_created=%s != dropped_ring + sent + "
                "dropped = %s" % (c.get("spans_created"), accounted))
if c and requests and c.get("spans_created", 0) < requests:
    fail.append("fewer spans (%d) than requests served (%d)"
                % (c.get("spans_created", 0), requests))
if res["rss_warm_kb"] is None or res["rss_end_kb"] is None:
    fail.append("too few samples (run longer than the warm-up)")
elif res["rss_end_kb"] > res["rss_warm_kb"] + int(e["SOAK_MARGIN_KB"]):
    fail.append("RSS grew after warm-up: %d kB -> %d kB"
                % (res["rss_warm_kb"], res["rss_end_kb"]))
if res["fds_idle_after"] != res["fds_idle_before"]:
    fail.append("descriptors: %s idle before the load, %s after"
                % (res["fds_idle_before"], res["fds_idle_after"]))
res["failures"] = fail
res["ok"] = not fail

w = sys.stdout.write
w("soak: %ss, %s connections, warm-up %ss, %d samples\n"
  % (res["seconds"], res["connections"], res["warmup_s"], res["samples"]))
w("  requests served (wrk): %s (%s/s), non-2xx %d, socket errors %d\n"
  % (requests, rps, non2xx, sock_errors))
w("  worker RSS kB: start %s, after warm-up %s, end of load %s, max %s, "
  "idle after %s\n" % (res["rss_start_kb"], res["rss_warm_kb"],
                       res["rss_end_kb"], res["rss_max_kb"],
                       res["rss_idle_after_kb"]))
w("  worker fds: idle before %s, after warm-up %s, end of load %s "
  "(load min %s max %s), idle after %s\n"
  % (res["fds_idle_before"], res["fds_warm"], res["fds_end"],
     res["fds_load_min"], res["fds_load_max"], res["fds_idle_after"]))
w("  counters at exit: %s\n" % " ".join("%s=%d" % kv for kv in c.items()))
w("  spans_created %s == spans_dropped_ring + segments_sent + "
  "segments_dropped %s\n" % (c.get("spans_created"), accounted))
for f in fail:
    w("  FAIL: %s\n" % f)
w("soak: %s\n" % ("ok" if res["ok"] else "FAILED"))
if e.get("SOAK_JSON"):
    with open(e["SOAK_JSON"], "w") as f:
        json.dump(res, f, indent=1)
sys.exit(0 if res["ok"] else 1)
EOF
