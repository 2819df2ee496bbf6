#!/usr/bin/python3
"""Reporter throughput: one reporter thread, the real ring, a synthetic
producer at fixed rates.

  bench/reporter.py [--quick] [--seconds S] [--rates 10000,50000,100000,0]
                    [--collectors sink,python] [--json FILE]

tests/helpers/bench_reporter compiles the preload object's ring, reporter
thread, ids, config and stats sources into one program, starts the
reporter thread exactly as the first traced connection does (it
dlopen()s libswreporter.so and sends over gRPC), and pushes finished
entry spans (one span per segment, as a served request makes) through
sw_sink_span() at the offered rate for S seconds (10, quick 3). Rate 0
means as fast as the reporter drains (the producer waits 1 ms when the
ring is full, so nothing is dropped at the ring): the reporter's
capacity. Then it waits for every span to be sent or counted dropped.

Collectors: "sink" is bench_grpc_sink (C, acknowledges without decoding,
so the reporter is what is measured); "python" is scripts/sw_collector.py
--discard (which still runs Python per message). The reporter thread's
CPU per span is the process CPU minus the producer thread's."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402


def run(procs, coll, rate, seconds, pin):
    env = B.bare_env()
    env["SW_AGENT_COLLECTOR_BACKEND_SERVICES"] = coll.address
    env["SW_AGENT_NAME"] = "bench-reporter"
    env["SW_AGENT_LOGGING_LEVEL"] = "WARNING"
    cmd = [B.binary("bench_reporter"), "-r", str(rate), "-d", str(seconds),
           "-w", "20", B.BUILD]
    if pin:
        cmd = ["taskset", "-c", "0"] + cmd
    _, out = procs.run(cmd, env=env, stdout=subprocess.PIPE,
                       timeout=seconds + 120, check=True)
    r = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        try:
            r[k] = float(v)
        except ValueError:
            pass
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--rates", default="10000,50000,100000,0")
    ap.add_argument("--collectors", default="sink,python")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    B.build()
    procs = B.Procs()
    pin = not args.no_pin and B.NCPU >= 2
    B.log("reporter: rates %s spans/s for %g s; collectors %s; %s"
          % (args.rates, seconds, args.collectors, B.machine()))
    rows = []
    try:
        for kind in args.collectors.split(","):
            coll = B.Collector(procs, kind, cpus="1" if pin else None)
            try:
                for rate in (int(x) for x in args.rates.split(",")):
                    r = run(procs, coll, rate, seconds, pin)
                    r["collector"] = kind
                    rows.append(r)
                    B.log("  %-6s offered %7s/s: pushed %d, dropped at ring "
                          "%d, sent %d, dropped by reporter %d, %0.f spans/s "
                          "sent, reporter CPU %.2f us/span" % (
                              kind, rate or "max", r.get("pushed", 0),
                              r.get("dropped_ring", 0),
                              r.get("segments_sent", 0),
                              r.get("segments_dropped", 0),
                              r.get("sent_per_s", 0),
                              r.get("reporter_cpu_us_per_span", 0)))
            finally:
                coll.stop()
    finally:
        procs.kill_all()
    print("%-9s %9s %9s %9s %9s %9s %10s %9s" % (
        "collector", "offered/s", "offered", "drop ring", "sent",
        "drop rep", "sent/s", "cpu us/sp"))
    for r in rows:
        print("%-9s %9s %9d %9d %9d %9d %10.0f %9.2f" % (
            r["collector"], int(r.get("offered_rate", 0)) or "max",
            r.get("offered", 0), r.get("dropped_ring", 0),
            r.get("segments_sent", 0), r.get("segments_dropped", 0),
            r.get("sent_per_s", 0), r.get("reporter_cpu_us_per_span", 0)))
    print("(one span per segment; sent/s = spans sent per second of wall "
          "time; drop rep = dropped by the reporter's queue or a failed call)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": seconds, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
