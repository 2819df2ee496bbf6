#!/usr/bin/python3
"""Where the added time per request goes: perf cpu-clock samples of the
server's CPU, bare vs preloaded, in µs per request, by thread, object and
function.

  bench/profile.py [--server nginx|node|python] [--rounds N] [--seconds S]
                   [--top K] [--freq HZ]

The server (as in bench/servers.py; default nginx) runs bare and
preloaded on CPU 0, wrk and the gRPC sink on CPU 1. For each round and
each variant (alternating), `perf record -C 0 -e cpu-clock` samples CPU 0
while wrk runs; samples are summed by (thread name, object, symbol) and
divided by the requests wrk completed. cpu-clock needs no hardware
counters, so this works in a VM; it needs perf and the right to sample
the whole CPU (root, or kernel.perf_event_paranoid <= 0). The agent's
reporter thread shows up as thread `sw-reporter`; `swapper` is CPU 0
idle."""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import servers as S  # noqa: E402

LINE = re.compile(r"\s*(\d+)\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*)$")


def sample(procs, srv, seconds, freq, data):
    """(Counter of samples by (comm, dso, sym), requests)."""
    p = procs.start(["perf", "record", "-q", "-C", "0", "-e", "cpu-clock",
                     "-F", str(freq), "-o", data],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r, _ = B.run_wrk(srv.url, seconds, S.CONNS[srv.kind], cpus="1",
                     procs=procs)
    time.sleep(0.5)
    procs.stop(p, 2)
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                          "--sort", "comm,dso,sym",
                          "-F", "sample,comm,dso,sym"],
                         capture_output=True, text=True).stdout
    agg = collections.Counter()
    for line in rep.splitlines():
        m = LINE.match(line)
        if m:
            agg[(m.group(2), m.group(3), m.group(5).strip())] += \
                int(m.group(1))
    return agg, r["requests"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", choices=sorted(S.CONNS), default="nginx")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--freq", type=int, default=4000)
    args = ap.parse_args()
    B.need_tool("wrk")
    B.need_tool("perf", "linux-perf")
    if B.NCPU < 2:
        raise SystemExit("bench/profile.py: needs two CPUs")
    B.build()
    procs = B.Procs()
    tmp = tempfile.mkdtemp(prefix="swbench_profile_")
    coll = B.Collector(procs, "sink", cpus="1")
    srv = {"bare": S.Server(procs, args.server, B.bare_env(), "0"),
           "pre": S.Server(procs, args.server,
                           B.agent_env(coll, "bench-" + args.server), "0")}
    tot = {k: [collections.Counter(), 0] for k in srv}
    try:
        for s in srv.values():
            B.run_wrk(s.url, 1, S.CONNS[args.server], cpus="1",
                      procs=procs)
        for i in range(args.rounds):
            order = ["bare", "pre"] if i % 2 == 0 else ["pre", "bare"]
            for k in order:
                agg, req = sample(procs, srv[k], args.seconds, args.freq,
                                  os.path.join(tmp, k + ".data"))
                tot[k][0].update(agg)
                tot[k][1] += req
                B.log("  %-4s round %d: %d requests" % (k, i + 1, req))
    finally:
        for s in srv.values():
            s.stop()
        coll.stop()
        procs.kill_all()
        subprocess.run(["rm", "-rf", tmp])
    us = 1e6 / args.freq

    def per_req(k, key):
        return tot[k][0].get(key, 0) * us / tot[k][1] if tot[k][1] else 0.0

    keys = set(tot["bare"][0]) | set(tot["pre"][0])
    b_all = sum(per_req("bare", x) for x in keys)
    p_all = sum(per_req("pre", x) for x in keys)
    print("CPU 0, us per request: bare %.2f, preloaded %.2f, added %+.2f "
          "(idle included: thread swapper)" % (b_all, p_all, p_all - b_all))
    groups = collections.defaultdict(lambda: [0.0, 0.0])
    for x in keys:
        g = groups["%s  %s" % (x[0], x[1])]
        g[0] += per_req("bare", x)
        g[1] += per_req("pre", x)
    print("\n%8s %8s %8s  %s" % ("added", "bare", "pre", "thread  object"))
    for name, (b, p) in sorted(groups.items(),
                               key=lambda kv: kv[1][0] - kv[1][1]):
        if abs(p - b) >= 0.005:
            print("%+8.3f %8.3f %8.3f  %s" % (p - b, b, p, name))
    rows = sorted(((per_req("pre", x) - per_req("bare", x), x)
                   for x in keys), reverse=True)
    print("\n%8s %8s %8s  %s" % ("added", "bare", "pre",
                                 "thread  object  function"))
    for d, x in rows[:args.top]:
        print("%+8.3f %8.3f %8.3f  %s" % (d, per_req("bare", x),
                                          per_req("pre", x), "  ".join(x)))


if __name__ == "__main__":
    main()
