#!/usr/bin/python3
"""Memory: RSS the preload adds to an idle process, and RSS of a busy
nginx worker over time.

  bench/memory.py [--quick] [--seconds S] [--interval S] [--json FILE]

idle:  python3 -m http.server, bare and preloaded side by side. VmRSS
       (/proc/PID/status) once started and idle (no connection yet: the
       agent's tables are mapped, no thread, nothing loaded), and again
       after one request each (the preloaded one has started its reporter
       thread and loaded libswreporter.so with libcurl).
load:  nginx (worker_processes 1, 1 KiB static file), bare then
       preloaded, each under wrk (keep-alive, 16 connections) for S
       seconds (60, quick 10) after a 1 s warm-up; the worker's VmRSS is
       sampled every --interval seconds (2, quick 1). Reported: the first
       sample, the last, the maximum, and the growth over the second half
       of the run (last minus the sample at half time), which must be
       about zero for "no growth". Where the preloaded worker's RSS
       changed between its first and last samples is shown by mapping
       (/proc/PID/smaps, read with every sample): each mapping's Rss at
       the first and last sample and at the sample with the largest RSS,
       for the mappings that moved by 64 KiB or more."""
import argparse
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import servers as S  # noqa: E402


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        r.read()


def idle(procs, coll):
    bare = S.Server(procs, "python", B.bare_env(), None)
    pre = S.Server(procs, "python", B.agent_env(coll, "bench-idle"), None)
    try:
        time.sleep(1.0)
        res = {"bare_idle_kib": B.vm_rss_kib(bare.p.pid),
               "pre_idle_kib": B.vm_rss_kib(pre.p.pid)}
        get(bare.url)
        get(pre.url)
        time.sleep(2.0)
        res["bare_served_kib"] = B.vm_rss_kib(bare.p.pid)
        res["pre_served_kib"] = B.vm_rss_kib(pre.p.pid)
    finally:
        bare.stop()
        pre.stop()
    res["added_idle_kib"] = res["pre_idle_kib"] - res["bare_idle_kib"]
    res["added_served_kib"] = res["pre_served_kib"] - res["bare_served_kib"]
    return res


def size_str(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%d%s" % (n, unit)
        n //= 1024


def smaps_rss(pid):
    """{mapping: [Rss KiB, "size perms"]} of a process, a mapping named
    by its start address and file or [name] ("anon" for none), so that
    one that grows (a heap) keeps its name."""
    out, key = {}, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                head = line.split()
                if "-" in head[0] and not head[0].endswith(":"):
                    lo, hi = (int(x, 16) for x in head[0].split("-"))
                    name = head[5] if len(head) > 5 else "anon"
                    key = "%x %s" % (lo, os.path.basename(name))
                    out[key] = [0, "%s %s" % (size_str(hi - lo), head[1])]
                elif head[0] == "Rss:" and key:
                    out[key][0] = int(head[1])
    except (OSError, IndexError, ValueError):
        pass
    return out


def smaps_moves(first, peak, last, min_kib=64):
    """The mappings whose Rss moved by min_kib or more from first to
    last or to the peak sample: (mapping, first, peak, last) KiB."""
    rows = []
    for k in sorted(set(first) | set(peak) | set(last)):
        a, m, z = (d.get(k, [0])[0] for d in (first, peak, last))
        if abs(z - a) >= min_kib or abs(m - a) >= min_kib:
            desc = (last.get(k) or peak.get(k) or first.get(k))[1]
            rows.append(("%s (%s)" % (k, desc), a, m, z))
    return rows


def under_load(procs, coll, kind, seconds, interval, pin):
    env = B.bare_env() if kind == "bare" else B.agent_env(coll, "bench-mem")
    srv = S.Server(procs, "nginx", env, "0" if pin else None)
    samples, maps = [], []
    try:
        worker = [p for p in srv.pids() if p != srv.p.pid][0]
        B.run_wrk(srv.url, 1, 16, cpus="1" if pin else None, procs=procs)
        out = {}

        def drive():
            out["wrk"] = B.run_wrk(srv.url, seconds, 16,
                                   cpus="1" if pin else None, procs=procs)[0]

        t = threading.Thread(target=drive)
        t0 = time.time()
        t.start()
        while t.is_alive():
            samples.append((round(time.time() - t0, 1), B.vm_rss_kib(worker)))
            maps.append(smaps_rss(worker))
            t.join(interval)
        samples.append((round(time.time() - t0, 1), B.vm_rss_kib(worker)))
        maps.append(smaps_rss(worker))
    finally:
        stats = srv.stop()
    rss = [s[1] for s in samples if s[1] is not None]
    half = rss[len(rss) // 2]
    res = {"samples": samples, "start_kib": rss[0], "end_kib": rss[-1],
           "max_kib": max(rss), "growth_second_half_kib": rss[-1] - half,
           "requests": out.get("wrk", {}).get("requests", 0),
           "agent_stats": B.parse_agent_stats(stats)}
    peak = max(range(len(samples)), key=lambda i: samples[i][1] or 0)
    res["smaps_moves"] = smaps_moves(maps[0], maps[peak], maps[-1])
    B.log("  nginx %-4s worker VmRSS start %d KiB, end %d KiB, max %d KiB, "
          "second-half growth %+d KiB, %d requests" % (
              kind, res["start_kib"], res["end_kib"], res["max_kib"],
              res["growth_second_half_kib"], res["requests"]))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--interval", type=float)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    seconds = args.seconds or (10 if args.quick else 60)
    interval = args.interval or (1.0 if args.quick else 2.0)
    B.need_tool("wrk")
    B.build()
    procs = B.Procs()
    pin = not args.no_pin and B.NCPU >= 2
    B.log("memory: idle python http.server; nginx worker under wrk %d s, "
          "sampled every %.0f s; %s" % (seconds, interval, B.machine()))
    coll = B.Collector(procs, "sink", cpus="1" if pin else None)
    try:
        res = {"idle": idle(procs, coll)}
        for kind in ("bare", "pre"):
            res[kind] = under_load(procs, coll, kind, seconds, interval, pin)
    finally:
        coll.stop()
        procs.kill_all()
    i = res["idle"]
    print("%-34s %10s %10s %10s" % ("VmRSS (KiB)", "bare", "preloaded",
                                     "added"))
    print("%-34s %10d %10d %10d" % ("python http.server idle, no conn",
                                    i["bare_idle_kib"], i["pre_idle_kib"],
                                    i["added_idle_kib"]))
    print("%-34s %10d %10d %10d" % ("python http.server after 1 request",
                                    i["bare_served_kib"], i["pre_served_kib"],
                                    i["added_served_kib"]))
    for key, label in (("start_kib", "start"), ("end_kib", "end"),
                       ("max_kib", "max"),
                       ("growth_second_half_kib", "growth, 2nd half")):
        print("%-34s %10d %10d %10d" % (
            "nginx worker under wrk: " + label, res["bare"][key],
            res["pre"][key], res["pre"][key] - res["bare"][key]))
    print("nginx worker samples (s, KiB), preloaded: " + " ".join(
        "%s:%d" % s for s in res["pre"]["samples"]))
    print("mappings of the preloaded worker whose Rss moved (KiB: first "
          "sample, largest-RSS sample, last):")
    for k, a, m, z in res["pre"]["smaps_moves"]:
        print("  %-56s %8d %8d %8d" % (k, a, m, z))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
