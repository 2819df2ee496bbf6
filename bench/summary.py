#!/usr/bin/python3
"""Prints the side-by-side summary of a bench/run.sh run and checks the
overhead targets.

  bench/summary.py DIR

DIR holds the --json outputs of servers.py (servers.json), startup.py
(startup.json), hooks.py (hooks.json), reporter.py (reporter.json) and
memory.py (memory.json); any of them may be missing."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

# Growth of the worker's RSS over the second half of the load run below
# which it counts as flat (allocator noise).
FLAT_KIB = 1024


def load(d, name):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def main():
    d = sys.argv[1]
    targets = []  # (target, measured, holds)
    lines = []

    def row(*cols):
        lines.append("%-36s %14s %14s %10s" % cols)

    row("", "bare", "preloaded", "ratio")

    for name, tag in (("servers", ""), ("servers_python", " (py coll)")):
        srv = load(d, name)
        if not srv:
            continue
        for r in srv["results"]:
            k = r["server"] + tag
            row("%s req/s (wrk -c%d)" % (k, r["conns"]),
                "%.0f" % r["bare_rps"], "%.0f" % r["pre_rps"],
                B.fmt(r["rps_ratio"], 3))
            row("%s p50 latency ms" % k, B.fmt(r["bare_p50_ms"], 3),
                B.fmt(r["pre_p50_ms"], 3), B.fmt(r["p50_ratio"]))
            row("%s p99 latency ms" % k, B.fmt(r["bare_p99_ms"], 3),
                B.fmt(r["pre_p99_ms"], 3), B.fmt(r["p99_ratio"]))
            se = r.get("added_cpu_se", float("nan"))
            row("%s CPU us/request" % k, B.fmt(r["bare_cpu_us_per_req"]),
                B.fmt(r["pre_cpu_us_per_req"]),
                "%+.2f us" % r["added_cpu_us"])
            if "added_app_us" in r:
                row("%s   of which app threads / reporter" % k, "",
                    "", "%+.2f / %.2f us" % (r["added_app_us"],
                                             r["reporter_us"]))
            if r.get("rounds_run_again"):
                row("%s rounds run again (host or others busy)" % k, "", "",
                    "%d" % r["rounds_run_again"])
            st = r.get("agent_stats") or {}
            if st:
                row("%s spans created / dropped" % k, "",
                    "%d" % st.get("spans_created", 0),
                    "%d lost" % (st.get("spans_dropped_ring", 0) +
                                 st.get("segments_dropped", 0)))
            if tag:
                continue  # informational: that collector drops spans
            # Holds or misses only when 2 standard errors of the pairwise
            # differences keep the result on one side of the bound.
            add = r["added_cpu_us"]
            if se == se and add + 2 * se <= 2.0:
                verdict = True
            elif se != se or add - 2 * se > 2.0:
                verdict = add <= 2.0
            else:
                verdict = None
            targets.append(("%s: added CPU per traced request <= 2 us" % k,
                            "%+.2f +- %s us" % (add, B.fmt(2 * se)),
                            verdict))
            if r["server"] == "nginx":
                targets.append(("%s throughput ratio >= 0.95" % k,
                                B.fmt(r["rps_ratio"], 3),
                                r["rps_ratio"] >= 0.95))

    st = load(d, "startup")
    if st:
        res = st["results"]
        for k in ("preloaded", "excluded"):
            row("/bin/true ms (best round), %s" % k,
                B.fmt(res["bare"].get("best_ms", res["bare"]["median_ms"]), 3),
                B.fmt(res[k].get("best_ms", res[k]["median_ms"]), 3),
                B.fmt(res[k]["ratio"], 3))
        for r in st.get("interleaved", []):
            if r["label"] != "bare":
                row("/bin/true us (interleaved median), %s" % r["label"],
                    B.fmt(st["interleaved"][0]["median_us"], 1),
                    B.fmt(r["median_us"], 1), B.fmt(r["ratio"], 3))
        # The interleaved figure when there is one: hyperfine's rounds can
        # each land on a different burst of other load.
        for k in ("preloaded", "excluded"):
            ratio = res[k].get("interleaved_ratio", res[k]["ratio"])
            how = ("interleaved median" if "interleaved_ratio" in res[k]
                   else "best round")
            targets.append(("startup of /bin/true <= 1.15x bare (%s, %s)"
                            % (k, how), "%sx" % B.fmt(ratio, 3),
                            ratio <= 1.15))

    hk = load(d, "hooks")
    if hk:
        worst = 0.0
        for mode, r in hk.get("io", {}).items():
            row("%s instructions/call" % mode, B.fmt(r["bare"], 1),
                B.fmt(r["pre"], 1), "+%s" % B.fmt(r["added"], 1))
            worst = max(worst, r["added"])
        if "io" in hk:
            targets.append(("non-socket read()/write() <= 30 added "
                            "instructions/call", "+%s (worst)" % B.fmt(worst, 1),
                            worst <= 30))
        for key, unit in (("loopback", "exchange"), ("nginx", "request")):
            for role in ("client", "server", "app", "main", "reporter"):
                r = hk.get(key, {}).get(role)
                if r:
                    row("%s %s instr/%s" % (key, r["label"], unit),
                        "%.0f" % r["bare"], "%.0f" % r["pre"],
                        "+%.0f" % r["added"])

    rep = load(d, "reporter")
    if rep:
        for r in rep["rows"]:
            rate = int(r.get("offered_rate", 0))
            row("reporter->%s %s spans/s offered" % (
                r["collector"], rate or "max"),
                "", "%.0f sent/s" % r.get("sent_per_s", 0),
                "drop %d" % (r.get("dropped_ring", 0) +
                             r.get("segments_dropped", 0)))
        mx = [r for r in rep["rows"] if r["collector"] == "sink" and
              int(r.get("offered_rate", 0)) == 0]
        if mx:
            targets.append(("one reporter thread >= 300k spans/s (C sink)",
                            "%.0f spans/s" % mx[0]["sent_per_s"],
                            mx[0]["sent_per_s"] >= 300000))
        for coll in ("sink", "python"):
            at50 = [r for r in rep["rows"] if r["collector"] == coll and
                    int(r.get("offered_rate", 0)) == 50000]
            if at50:
                drops = at50[0].get("dropped_ring", 0) + \
                    at50[0].get("segments_dropped", 0)
                targets.append(("no drops at 50k spans/s (%s collector)" % coll,
                                "%d dropped of %d" % (drops,
                                                      at50[0].get("offered", 0)),
                                drops == 0))
        py = [r for r in rep["rows"] if r["collector"] == "python" and
              int(r.get("offered_rate", 0)) == 0]
        if py:
            targets.append(("one reporter thread >= 300k spans/s "
                            "(sw_collector.py --discard)",
                            "%.0f spans/s" % py[0]["sent_per_s"],
                            py[0]["sent_per_s"] >= 300000))

    mem = load(d, "memory")
    if mem:
        i = mem["idle"]
        row("python http.server idle VmRSS KiB", str(i["bare_idle_kib"]),
            str(i["pre_idle_kib"]), "+%d" % i["added_idle_kib"])
        row("  after 1 request", str(i["bare_served_kib"]),
            str(i["pre_served_kib"]), "+%d" % i["added_served_kib"])
        for key, label in (("start_kib", "start"), ("end_kib", "end"),
                           ("max_kib", "max")):
            row("nginx worker VmRSS KiB under load, %s" % label,
                str(mem["bare"][key]), str(mem["pre"][key]),
                "+%d" % (mem["pre"][key] - mem["bare"][key]))
        added = max(i["added_idle_kib"], i["added_served_kib"])
        targets.append(("RSS added <= 16 MiB (idle process)",
                        "%.1f MiB" % (added / 1024.0), added <= 16 * 1024))
        g = mem["pre"]["growth_second_half_kib"]
        targets.append(("no RSS growth under load (2nd half, nginx worker)",
                        "%+d KiB" % g, g <= FLAT_KIB))

    print("\n".join(lines))
    print()
    print("%-58s %22s  %s" % ("target", "measured", ""))
    for t, m, ok in targets:
        print("%-58s %22s  %s" % (t, m, "inconclusive (noise)" if ok is None
                                   else "holds" if ok else "MISSED"))


if __name__ == "__main__":
    main()
