#!/usr/bin/python3
"""Server throughput, latency and CPU per request: bare vs preloaded.

  bench/servers.py [--quick] [--servers nginx,python,node] [--pairs N]
                   [--seconds S] [--collector sink|python] [--no-pin]
                   [--also LABEL=PATH ...] [--env LABEL:VAR=VALUE ...]
                   [--max-steal PCT]
                   [--max-others PCT] [--json FILE]

For each server, two instances run side by side: one bare, one under
LD_PRELOAD=libswpreload.so reporting every request over gRPC to the
collector (default: bench_grpc_sink, which acknowledges without decoding;
--collector python: scripts/sw_collector.py --discard). wrk drives them
in alternating runs (bare, preloaded, then preloaded, bare, ...), after a
warm-up run each. Per run: requests/s and p50/p99 latency from
wrk --latency, and the CPU the server used (utime + stime of every one of
its processes, all threads: each process's CPU-time clock, which is that
sum in ns where /proc/PID/stat rounds it to clock ticks; the reporter
thread's share from its /proc schedstat; read before the run and one
second after it, so that the reporter's trailing sends are counted)
divided by the requests served.

  nginx:  worker_processes 1, access_log off, sendfile on, a 1 KiB static
          file, keep-alive (wrk -c16)
  python: python3 -m http.server, 1 KiB file; HTTP/1.0, one connection per
          request (wrk -c2); its per-request log line goes to a file
  node:   an http.createServer() answering 1 KiB, keep-alive (wrk -c16)

With two or more CPUs, the servers run on CPU 0 and wrk and the collector
on CPU 1 (taskset), unless --no-pin.

On a virtual machine the host may run someone else on our CPUs (steal
time in /proc/stat); while it does, every process's CPU per request grows
(by half and more at 30-60% steal), for whichever variant is running. A
round in which any CPU lost more than --max-steal percent (default 5) to
the host during one of its runs is run again, up to 3 x pairs rounds in
all; so is a round in which other programs used more than --max-others
percent (default 5) of the server's CPU (CPU 0, when pinned: its busy
time less the server's own). Each run's figures are logged, and how many
rounds were run again. The decision looks at the machine, never at the
results.

--also LABEL=PATH adds an instance preloaded with another libswpreload.so
(its libswreporter.so is the one beside it), e.g. a build of an earlier
commit, to every round: a change is then measured before and after in the
same run, against bare and against the preload under test.
--env LABEL:VAR=VALUE sets VAR in that instance's environment only, so
that a setting of the same build is measured the same way, e.g.
--also small=BUILD --env small:SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE=512."""
import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

BODY = 1024

NGINX_CONF = """
{user}
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
  }}
}}
"""

NODE_SRC = r"""
const http = require('http');
const fs = require('fs');
const body = Buffer.alloc(%d, 'x');
const srv = http.createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'text/plain',
                      'Content-Length': body.length});
  res.end(body);
});
srv.keepAliveTimeout = 60000;
srv.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(process.argv[1] + '.tmp', String(srv.address().port));
  fs.renameSync(process.argv[1] + '.tmp', process.argv[1]);
});
process.on('SIGTERM', () => process.exit(0));
""" % BODY

CONNS = {"nginx": 16, "python": 2, "node": 16}


class Server:
    """One server instance (bare or preloaded) in its own directory."""

    def __init__(self, procs, kind, env, cpus):
        self.procs = procs
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="swbench_%s_" % kind)
        www = os.path.join(self.dir, "www")
        os.mkdir(www)
        with open(os.path.join(www, "file.txt"), "wb") as f:
            f.write(b"x" * BODY)
        self.errpath = os.path.join(self.dir, "stderr.txt")
        self.err = open(self.errpath, "w")
        if kind == "nginx":
            self.port = B.free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            user = "user root;" if os.geteuid() == 0 else ""
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=self.dir, port=self.port,
                                          user=user))
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            cmd = [nginx, "-c", conf, "-p", self.dir]
            self.p = procs.start(cmd, env=env, stderr=self.err, cpus=cpus)
            B.wait_listen(self.port, self.p)
        elif kind == "python":
            self.port = B.free_port()
            cmd = [B.PYTHON, "-m", "http.server", "--bind", "127.0.0.1",
                   "--directory", www, str(self.port)]
            self.p = procs.start(cmd, env=env, stderr=self.err, cpus=cpus)
            B.wait_listen(self.port, self.p)
        elif kind == "node":
            pf = os.path.join(self.dir, "port")
            cmd = ["node", "-e", NODE_SRC, pf]
            self.p = procs.start(cmd, env=env, stderr=self.err, cpus=cpus)
            B.wait_file(pf, self.p)
            self.port = int(open(pf).read())
            B.wait_listen(self.port, self.p)
        else:
            raise ValueError(kind)
        self.url = "http://127.0.0.1:%d/file.txt" % self.port

    def pids(self):
        return B.descendants(self.p.pid)

    def stop(self):
        # python's http.server exits cleanly (atexit runs) on SIGINT only.
        sig = signal.SIGINT if self.kind == "python" else signal.SIGTERM
        self.procs.stop(self.p, sig)
        self.err.close()
        text = open(self.errpath, errors="replace").read()
        shutil.rmtree(self.dir, ignore_errors=True)
        return text


def measure(procs, srv, seconds, conns, wrk_cpus):
    pids = srv.pids()
    c0, a0, s0 = B.cpu_ns(pids), B.agent_ns(pids), B.cpu_stat()
    r, out = B.run_wrk(srv.url, seconds, conns, cpus=wrk_cpus, procs=procs)
    time.sleep(1.0)
    c1, a1, s1 = B.cpu_ns(pids), B.agent_ns(pids), B.cpu_stat()
    r["steal_pct"] = B.steal_pct(s0, s1)
    # Pinned, CPU 0 is the server's alone: what else ran there.
    r["others_pct"] = (B.others_pct(s0, s1, "cpu0", (c1 - c0) / B.TICK_NS)
                       if wrk_cpus else 0.0)
    cpu_s = (c1 - c0) / 1e9
    agent_s = (a1 - a0) / 1e9
    r["cpu_s"] = cpu_s
    r["cpu_us_per_req"] = (cpu_s * 1e6 / r["requests"]
                           if r["requests"] else float("nan"))
    # Of which the agent's reporter thread (0 for a bare server): the rest
    # is what the application's own threads spent, hooks included.
    r["agent_us_per_req"] = (agent_s * 1e6 / r["requests"]
                             if r["requests"] else float("nan"))
    if r["errors"] or r["non2xx"] or not r["requests"]:
        B.log("warning: wrk reported errors:\n" + out)
    return r


def compare(base_runs, runs):
    """Per-round comparison of runs against base_runs (the same rounds):
    medians of the ratios and of the CPU differences, and the standard
    error of those differences."""
    pairs = list(zip(base_runs, runs))
    res = {}
    for key, b_key in (("rps_ratio", "rps"), ("p50_ratio", "p50_ms"),
                       ("p99_ratio", "p99_ms")):
        res[key] = B.median([p[b_key] / b[b_key] for b, p in pairs
                             if b[b_key]])
    diffs = [p["cpu_us_per_req"] - b["cpu_us_per_req"] for b, p in pairs]
    res["added_cpu_us"] = B.median(diffs)
    # The same difference split by thread: the application's threads
    # (hooks, parsing, spans, ring) and the agent's reporter thread.
    res["added_app_us"] = B.median(
        [(p["cpu_us_per_req"] - p["agent_us_per_req"]) -
         (b["cpu_us_per_req"] - b["agent_us_per_req"]) for b, p in pairs])
    res["reporter_us"] = B.median([p["agent_us_per_req"] for _, p in pairs])
    rep = [p["agent_us_per_req"] - b["agent_us_per_req"] for b, p in pairs]
    res["added_rep_us"] = B.median(rep)
    res["added_rep_se"] = (statistics.stdev(rep) / len(rep) ** 0.5
                           if len(rep) > 1 else float("nan"))
    # Standard error of the pairwise differences: how far the machine's
    # noise lets the median be trusted.
    res["added_cpu_se"] = (statistics.stdev(diffs) / len(diffs) ** 0.5
                           if len(diffs) > 1 else float("nan"))
    return res


def bench_server(procs, kind, coll, args):
    pin = not args.no_pin and B.NCPU >= 2
    srv_cpus = "0" if pin else None
    wrk_cpus = "1" if pin else None
    conns = args.conns or CONNS[kind]
    envs = [("bare", B.bare_env()),
            ("pre", B.agent_env(coll, "bench-" + kind))]
    for label, path in args.also:
        env = B.agent_env(coll, "bench-" + kind)
        env["LD_PRELOAD"] = path
        env.update(args.env.get(label, {}))
        envs.append((label, env))
    servers = [(mode, Server(procs, kind, env, srv_cpus))
               for mode, env in envs]
    runs = {mode: [] for mode, _ in envs}
    stats = {}
    discarded = 0
    try:
        for _, s in servers:  # warm-up: first connections, reporter load
            B.run_wrk(s.url, 1, conns, cpus=wrk_cpus, procs=procs)
        time.sleep(1.0)
        i = tries = 0
        while i < args.pairs:
            # Every variant once per round, the order reversed every other
            # round, so that a drift of the machine favours none of them.
            order = servers if i % 2 == 0 else servers[::-1]
            tries += 1
            rnd = []
            for mode, s in order:
                r = measure(procs, s, args.seconds, conns, wrk_cpus)
                rnd.append((mode, r))
                B.log("  %-6s %-4s run %d: %8.0f req/s  p50 %6s ms  p99 %6s "
                      "ms  cpu %6.2f us/req (reporter %5.2f)  steal %4.1f%%  others "
                      "%4.1f%%" % (
                          kind, mode, i + 1, r["rps"], B.fmt(r["p50_ms"], 3),
                          B.fmt(r["p99_ms"], 3), r["cpu_us_per_req"],
                          r["agent_us_per_req"], r["steal_pct"],
                          r["others_pct"]))
            # A round in which the host took more than --max-steal of a CPU,
            # or other programs more than --max-others of the server's CPU,
            # during any of its runs is run again, whatever its figures
            # were: the decision looks at the machine, never at the
            # results, so it favours no variant.
            steal = max(r["steal_pct"] for _, r in rnd)
            others = max(r["others_pct"] for _, r in rnd)
            if ((steal > args.max_steal or others > args.max_others)
                    and tries < args.pairs * 3):
                discarded += 1
                B.log("  %-6s round %d run again: steal %.1f%%, others "
                      "%.1f%% (limits %.0f%%, %.0f%%)" % (
                          kind, i + 1, steal, others, args.max_steal,
                          args.max_others))
                continue
            for mode, r in rnd:
                runs[mode].append(r)
            i += 1
    finally:
        for mode, s in servers:
            text = s.stop()
            if mode != "bare":
                stats[mode] = B.parse_agent_stats(text)
    res = {"server": kind, "conns": conns, "seconds": args.seconds,
           "pairs": args.pairs, "runs": runs, "agent_stats": stats["pre"],
           "max_steal_pct": args.max_steal, "max_others_pct": args.max_others,
           "rounds_run_again": discarded}
    for mode in ("bare", "pre"):
        for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req"):
            res["%s_%s" % (mode, key)] = B.median([r[key] for r in runs[mode]])
    res.update(compare(runs["bare"], runs["pre"]))
    # --also: each other build against bare, and against "pre" directly
    # (the before/after of a change, measured in the same rounds).
    res["also"] = {}
    for label, path in args.also:
        a = compare(runs["bare"], runs[label])
        a["path"] = path
        a["rps"] = B.median([r["rps"] for r in runs[label]])
        a["cpu_us_per_req"] = B.median([r["cpu_us_per_req"]
                                        for r in runs[label]])
        vs = compare(runs["pre"], runs[label])
        a["vs_pre_cpu_us"] = vs["added_cpu_us"]
        a["vs_pre_cpu_se"] = vs["added_cpu_se"]
        a["vs_pre_app_us"] = vs["added_app_us"]
        a["vs_pre_rep_us"] = vs["added_rep_us"]
        a["vs_pre_rep_se"] = vs["added_rep_se"]
        a["vs_pre_rps_ratio"] = vs["rps_ratio"]
        a["agent_stats"] = stats[label]
        res["also"][label] = a
    return res


def print_table(results):
    print("%-7s %5s | %10s %10s %6s | %8s %8s %6s | %8s %8s %6s | %7s %7s %7s "
          "%6s" % ("server", "conns", "bare rps", "pre rps", "ratio",
                   "bare p50", "pre p50", "ratio", "bare p99", "pre p99",
                   "ratio", "bare us", "pre us", "added", "+-se"))
    for r in results:
        print("%-7s %5d | %10.0f %10.0f %6s | %8s %8s %6s | %8s %8s %6s | "
              "%7s %7s %7s %6s" % (
                  r["server"], r["conns"], r["bare_rps"], r["pre_rps"],
                  B.fmt(r["rps_ratio"], 3), B.fmt(r["bare_p50_ms"], 3),
                  B.fmt(r["pre_p50_ms"], 3), B.fmt(r["p50_ratio"]),
                  B.fmt(r["bare_p99_ms"], 3), B.fmt(r["pre_p99_ms"], 3),
                  B.fmt(r["p99_ratio"]), B.fmt(r["bare_cpu_us_per_req"]),
                  B.fmt(r["pre_cpu_us_per_req"]), B.fmt(r["added_cpu_us"]),
                  B.fmt(r["added_cpu_se"])))
    for r in results:
        for label, a in r.get("also", {}).items():
            print("%-7s %5s | %10s %10.0f %6s | %8s %8s %6s | %8s %8s %6s | "
                  "%7s %7s %7s %6s" % (
                      label[:7], "", "", a["rps"], B.fmt(a["rps_ratio"], 3),
                      "", "", B.fmt(a["p50_ratio"]), "", "",
                      B.fmt(a["p99_ratio"]), "", B.fmt(a["cpu_us_per_req"]),
                      B.fmt(a["added_cpu_us"]), B.fmt(a["added_cpu_se"])))
    print("(medians over runs; latencies in ms; us = server CPU microseconds "
          "per request, all its processes and threads)")
    for r in results:
        print("%s added CPU by thread: application threads %+.2f us/request, "
              "reporter thread %.2f us/request" % (
                  r["server"], r["added_app_us"], r["reporter_us"]))
        for label, a in r.get("also", {}).items():
            print("%s %s (%s): added %+.2f us/request (application threads "
                  "%+.2f, reporter thread %.2f); against the preload under "
                  "test: %+.2f +- %.2f us/request (application threads %+.2f, "
                  "reporter thread %+.3f +- %.3f), throughput ratio %s" % (
                      r["server"], label, a["path"], a["added_cpu_us"],
                      a["added_app_us"], a["reporter_us"], a["vs_pre_cpu_us"],
                      a["vs_pre_cpu_se"], a["vs_pre_app_us"],
                      a["vs_pre_rep_us"], a["vs_pre_rep_se"],
                      B.fmt(a["vs_pre_rps_ratio"], 3)))
    for r in results:
        if r.get("rounds_run_again"):
            print("%s: %d round(s) run again for steal time over %.0f%% "
                  "or other programs over %.0f%% of the server's CPU" % (
                      r["server"], r["rounds_run_again"], r["max_steal_pct"],
                      r["max_others_pct"]))
    for r in results:
        st = r["agent_stats"]
        if st:
            print("%s agent: spans_created=%s spans_dropped_ring=%s "
                  "segments_sent=%s segments_dropped=%s" % (
                      r["server"], st.get("spans_created"),
                      st.get("spans_dropped_ring"), st.get("segments_sent"),
                      st.get("segments_dropped")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--servers", default="nginx,python,node")
    ap.add_argument("--pairs", type=int)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--collector", choices=["sink", "python"], default="sink")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--conns", type=int, metavar="N",
                    help="wrk connections for every server instead of its "
                         "default (nginx and node 16, python 2); fewer "
                         "than the server needs to be busy all the time "
                         "measures latency at partial load")
    ap.add_argument("--also", action="append", default=[],
                    metavar="LABEL=PATH",
                    help="another libswpreload.so (e.g. a build of an "
                    "earlier commit) run as one more preloaded instance in "
                    "the same rounds; PATH may be its build directory")
    ap.add_argument("--env", action="append", default=[],
                    metavar="LABEL:VAR=VALUE",
                    help="set VAR=VALUE in the environment of the --also "
                    "instance LABEL (e.g. another configuration of the "
                    "same build: --also small=BUILD --env "
                    "small:SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE=512)")
    ap.add_argument("--max-steal", type=float, default=5.0, metavar="PCT",
                    help="run a round again when the hypervisor took more "
                    "than PCT%% of a CPU during one of its runs (steal "
                    "time, /proc/stat), at most 3 x pairs rounds in all; "
                    "default 5, 100 keeps every round")
    ap.add_argument("--max-others", type=float, default=5.0, metavar="PCT",
                    help="the same for the share of the server's CPU (CPU "
                    "0, pinned) that other programs used; default 5")
    ap.add_argument("--json")
    args = ap.parse_args()
    also = []
    for a in args.also:
        label, sep, path = a.partition("=")
        if not sep or not label or label in ("bare", "pre"):
            ap.error("--also wants LABEL=PATH, LABEL not bare or pre: " + a)
        if os.path.isdir(path):
            path = os.path.join(path, "libswpreload.so")
        if not os.path.isfile(path):
            ap.error("--also %s: no such file %s" % (label, path))
        also.append((label, os.path.abspath(path)))
    args.also = also
    envs = {}
    for e in args.env:
        label, sep, kv = e.partition(":")
        var, sep2, val = kv.partition("=")
        if not sep or not sep2 or not var or label not in dict(also):
            ap.error("--env wants LABEL:VAR=VALUE, LABEL one of --also: " + e)
        envs.setdefault(label, {})[var] = val
    args.env = envs
    if args.pairs is None:
        args.pairs = 2 if args.quick else 5
    if args.seconds is None:
        args.seconds = 3 if args.quick else 10
    B.need_tool("wrk")
    B.build()
    procs = B.Procs()
    pin = not args.no_pin and B.NCPU >= 2
    B.log("servers: %s; %d pairs x %d s; collector %s; %s" % (
        args.servers, args.pairs, args.seconds, args.collector, B.machine()))
    coll = B.Collector(procs, args.collector, cpus="1" if pin else None)
    results = []
    try:
        for kind in args.servers.split(","):
            if kind == "node" and shutil.which("node") is None:
                B.log("node not found: skipped")
                continue
            results.append(bench_server(procs, kind, coll, args))
    finally:
        coll.stop()
        procs.kill_all()
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"collector": args.collector, "results": results}, f,
                      indent=1)


if __name__ == "__main__":
    main()
