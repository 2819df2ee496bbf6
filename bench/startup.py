#!/usr/bin/python3
"""Process start-up: /bin/true bare, preloaded, and preloaded but excluded.

  bench/startup.py [--quick] [--rounds N] [--runs N] [--json FILE]

hyperfine --shell=none times /bin/true in three environments, in
alternating rounds (bare, preloaded, excluded, bare, ...):
  bare       no LD_PRELOAD
  preloaded  LD_PRELOAD=libswpreload.so (the constructor parses the
             configuration and maps its tables; no thread, no dlopen: the
             process never makes a connection)
  excluded   the same with SW_AGENT_EXCLUDE=true (the constructor stops
             after reading the configuration)
hyperfine itself runs with the environment of the variant (that is how
the child gets it), so it carries the preload too, but excluded by name
(SW_AGENT_EXCLUDE=hyperfine,...): it pays nothing and traces nothing.
Per variant: the median over rounds of hyperfine's median wall time, and
the best (lowest) round median, which is what the ratio to bare uses:
other load on the machine only ever adds time, and it comes in bursts
that can spoil a whole round.

Then the same three variants timed by bench_spawn (tests/helpers): N
spawns of /bin/true each, the variants taking turns every 10 spawns, so
the machine's bursts fall on all of them alike; the median spawn-to-exit
time of each, and its ratio to bare's. On a shared VM this is the figure
to trust (hyperfine's rounds can each land on a different burst).
--also LABEL=PATH adds another libswpreload.so (a build of an earlier
commit, say) to that interleaved run, preloaded and excluded: before and
after in one run."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

TRUE = "/bin/true"


def variant_env(kind):
    env = B.bare_env()
    if kind == "preloaded":
        env["LD_PRELOAD"] = B.preload()
        env["SW_AGENT_EXCLUDE"] = "hyperfine"
    elif kind == "excluded":
        env["LD_PRELOAD"] = B.preload()
        env["SW_AGENT_EXCLUDE"] = "hyperfine,true"
    return env


def hyperfine(procs, kind, runs, warmup):
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        procs.run(["hyperfine", "--shell=none", "--style=none",
                   "--warmup", str(warmup), "--runs", str(runs),
                   "--export-json", tmp.name, TRUE],
                  env=variant_env(kind), timeout=600, check=True)
        r = json.load(open(tmp.name))["results"][0]
    return {"median_ms": r["median"] * 1e3, "mean_ms": r["mean"] * 1e3,
            "stddev_ms": (r["stddev"] or 0) * 1e3,
            "user_ms": r["user"] * 1e3, "system_ms": r["system"] * 1e3}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--runs", type=int)
    ap.add_argument("--spawns", type=int)
    ap.add_argument("--also", action="append", default=[],
                    metavar="LABEL=PATH")
    ap.add_argument("--json")
    args = ap.parse_args()
    rounds = args.rounds or (3 if args.quick else 7)
    runs = args.runs or (200 if args.quick else 400)
    B.need_tool("hyperfine")
    B.build()
    procs = B.Procs()
    B.log("startup: hyperfine %s, %d rounds x %d runs; %s"
          % (TRUE, rounds, runs, B.machine()))
    kinds = ["bare", "preloaded", "excluded"]
    rows = {k: [] for k in kinds}
    for i in range(rounds):
        order = kinds if i % 2 == 0 else list(reversed(kinds))
        for k in order:
            r = hyperfine(procs, k, runs, 20)
            rows[k].append(r)
            B.log("  round %d %-9s median %.3f ms  mean %.3f ms +- %.3f"
                  % (i + 1, k, r["median_ms"], r["mean_ms"], r["stddev_ms"]))
    res = {}
    for k in kinds:
        res[k] = {key: B.median([r[key] for r in rows[k]])
                  for key in rows[k][0]}
        res[k]["best_ms"] = min(r["median_ms"] for r in rows[k])
    for k in kinds:
        res[k]["ratio"] = res[k]["best_ms"] / res["bare"]["best_ms"]
        res[k]["median_ratio"] = (res[k]["median_ms"] /
                                  res["bare"]["median_ms"])
    print("%-10s %9s %10s %8s %8s %7s %9s" % (
        "startup", "best ms", "median ms", "user ms", "sys ms", "ratio",
        "(median)"))
    for k in kinds:
        r = res[k]
        print("%-10s %9.3f %10.3f %8.3f %8.3f %7.3f %9.3f" % (
            k, r["best_ms"], r["median_ms"], r["user_ms"], r["system_ms"],
            r["ratio"], r["median_ratio"]))
    print("(best = lowest round median; ratio = best / bare best; user and "
          "sys are hyperfine's means, medians over rounds)")
    spawns = args.spawns or (1000 if args.quick else 3000)
    inter = interleaved(procs, spawns, args.also)
    print("%-22s %9s %10s %9s %7s   (interleaved, %d spawns each)"
          % ("startup", "p10 us", "median us", "p90 us", "ratio", spawns))
    for r in inter:
        print("%-22s %9.1f %10.1f %9.1f %7.3f" % (
            r["label"], r["p10_us"], r["median_us"], r["p90_us"], r["ratio"]))
    for k in kinds:
        for r in inter:
            if r["label"] == k:
                res[k]["interleaved_ratio"] = r["ratio"]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": rounds, "runs": runs, "results": res,
                       "raw": rows, "interleaved": inter}, f, indent=1)


def interleaved(procs, n, also):
    """bench_spawn over bare, preloaded and excluded (and each --also
    library preloaded and excluded); rows in that order, ratio to bare."""
    libs = [("", B.preload())]
    for a in also:
        label, _, path = a.partition("=")
        libs.append((label + " ", path))
    variants = [("bare", "")]
    for label, lib in libs:
        variants.append((label + "preloaded", "LD_PRELOAD=" + lib))
        variants.append((label + "excluded",
                         "LD_PRELOAD=%s SW_AGENT_EXCLUDE=true" % lib))
    _, out = procs.run([B.binary("bench_spawn"), str(n), TRUE]
                       + [v for _, v in variants], env=B.bare_env(),
                       stdout=subprocess.PIPE, timeout=3600, check=True)
    rows = []
    for line in out.splitlines():
        kv = dict(f.split("=", 1) for f in line.split())
        rows.append({"label": variants[int(kv["variant"])][0],
                     "p10_us": float(kv["p10_us"]),
                     "median_us": float(kv["median_us"]),
                     "p90_us": float(kv["p90_us"])})
    for r in rows:
        r["ratio"] = r["median_us"] / rows[0]["median_us"]
    return rows


if __name__ == "__main__":
    main()
