#!/usr/bin/python3
"""Reporter throughput: one reporter thread, the real ring, a synthetic
producer at fixed rates.

  bench/reporter.py [--quick] [--seconds S] [--rates 10000,50000,100000,0]
                    [--collectors sink,stall,python] [--stall-ms MS]
                    [--stall-period S] [--hogs N] [--json FILE]

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
so the reporter is what is measured); "stall" is the same sink stopped
(SIGSTOP) for --stall-ms every --stall-period seconds, a backend that
pauses now and then: a call in flight waits until the pause ends;
"python" is scripts/sw_collector.py --discard (which still runs Python
per message). With --hogs N, N busy loops share the CPU the program is
pinned to, so that the reporter thread waits for the CPU now and then.
"ring max" is the highest fill level of the ring the producer saw: the
headroom left. The reporter thread's CPU per span is the process CPU
minus the producer thread's."""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402


class Staller:
    """Stops process p for stall_ms every period seconds, in a thread,
    until stop(); always leaves it running."""

    def __init__(self, p, stall_ms, period):
        self.p = p
        self.stall = stall_ms / 1000.0
        self.period = period
        self.done = threading.Event()
        self.count = 0
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.done.wait(max(self.period - self.stall, 0.01)):
            try:
                os.kill(self.p.pid, signal.SIGSTOP)
                self.count += 1
                self.done.wait(self.stall)
            finally:
                os.kill(self.p.pid, signal.SIGCONT)

    def stop(self):
        self.done.set()
        self.t.join()
        try:
            os.kill(self.p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def hogs(procs, n, cpus):
    """n busy loops on cpus: other runnable threads that the reporter
    thread has to share its CPU with."""
    return [procs.start(["sh", "-c", "while :; do :; done"], cpus=cpus)
            for _ in range(n)]


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
    ap.add_argument("--collectors", default="sink,stall,python")
    ap.add_argument("--stall-ms", type=float, default=150)
    ap.add_argument("--stall-period", type=float, default=1.0)
    ap.add_argument("--hogs", type=int, default=0,
                    help="busy loops sharing the reporter's CPU")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    B.build()
    procs = B.Procs()
    pin = not args.no_pin and B.NCPU >= 2
    B.log("reporter: rates %s spans/s for %g s; collectors %s (stall: "
          "%g ms every %g s); %d busy loops on the reporter's CPU; %s"
          % (args.rates, seconds, args.collectors, args.stall_ms,
             args.stall_period, args.hogs, B.machine()))
    rows = []
    try:
        for kind in args.collectors.split(","):
            coll = B.Collector(procs, "sink" if kind == "stall" else kind,
                               cpus="1" if pin else None)
            try:
                for rate in (int(x) for x in args.rates.split(",")):
                    st = (Staller(coll.p, args.stall_ms, args.stall_period)
                          if kind == "stall" else None)
                    busy = hogs(procs, args.hogs, "0" if pin else None)
                    try:
                        r = run(procs, coll, rate, seconds, pin)
                    finally:
                        if st:
                            st.stop()
                        for h in busy:
                            procs.stop(h, signal.SIGKILL)
                    r["collector"] = kind
                    if st:
                        r["stalls"] = st.count
                    rows.append(r)
                    B.log("  %-6s offered %7s/s: pushed %d, dropped at ring "
                          "%d (most used %d of %d lines), sent %d, dropped by "
                          "reporter %d, %0.f spans/s sent, reporter CPU "
                          "%.2f us/span" % (
                              kind, rate or "max", r.get("pushed", 0),
                              r.get("dropped_ring", 0),
                              r.get("ring_max_used", 0),
                              r.get("ring_cap", 0),
                              r.get("segments_sent", 0),
                              r.get("segments_dropped", 0),
                              r.get("sent_per_s", 0),
                              r.get("reporter_cpu_us_per_span", 0)))
            finally:
                coll.stop()
    finally:
        procs.kill_all()
    print("%-9s %9s %9s %9s %9s %9s %9s %10s %9s" % (
        "collector", "offered/s", "offered", "drop ring", "ring max",
        "sent", "drop rep", "sent/s", "cpu us/sp"))
    for r in rows:
        print("%-9s %9s %9d %9d %9d %9d %9d %10.0f %9.2f" % (
            r["collector"], int(r.get("offered_rate", 0)) or "max",
            r.get("offered", 0), r.get("dropped_ring", 0),
            r.get("ring_max_used", 0),
            r.get("segments_sent", 0), r.get("segments_dropped", 0),
            r.get("sent_per_s", 0), r.get("reporter_cpu_us_per_span", 0)))
    print("(one span per segment; sent/s = spans sent per second of wall "
          "time; drop rep = dropped by the reporter's queue or a failed call;"
          " stall = the sink stopped for %g ms every %g s; ring max = the"
          " highest fill level of the ring seen, in lines, of %d)"
          % (args.stall_ms, args.stall_period,
             max([r.get("ring_cap", 0) for r in rows] or [0])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": seconds, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
