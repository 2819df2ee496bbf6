#!/usr/bin/python3
"""What a second thread costs a single-threaded program's fd system calls,
and how much of it a private fd table for that thread would take back.

  bench/fdtable.py [--rounds N] [--calls N] [--cpu C] [--json FILE]

bench_fdtable (tests/helpers) times recv(MSG_DONTWAIT) on an empty socket
(a system call that looks its fd up and returns EAGAIN), through
syscall() and through libc, in three processes: no other thread
("none"), one idle thread sharing the fd table ("shared": the reporter
thread today) and one idle thread that unshared it ("unshared":
unshare(CLONE_FILES), then closing every fd of its copy). The three take
turns for --rounds rounds, pinned to one CPU; per variant the median of
the rounds, and the differences to "none" side by side. A nginx worker
makes about 7 such calls per request."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

VARIANTS = ["none", "shared", "unshared"]


def one(variant, calls, cpu):
    cmd = [B.binary("bench_fdtable"), variant, str(calls)]
    if cpu is not None and B.NCPU > 1:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True,
                         text=True).stdout
    kv = dict(w.split("=") for w in out.split())
    return float(kv["raw_ns"]), float(kv["libc_ns"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=2000000)
    ap.add_argument("--cpu", type=int, default=B.NCPU - 1)
    ap.add_argument("--json")
    a = ap.parse_args()
    B.build()
    res = {v: {"raw": [], "libc": []} for v in VARIANTS}
    for r in range(a.rounds):
        order = VARIANTS if r % 2 == 0 else VARIANTS[::-1]
        for v in order:
            raw, libc = one(v, a.calls, a.cpu)
            res[v]["raw"].append(raw)
            res[v]["libc"].append(libc)
            B.log("round %d %-8s raw %.1f ns libc %.1f ns" % (r + 1, v, raw,
                                                          libc))
    med = {v: {k: B.median(res[v][k]) for k in ("raw", "libc")}
           for v in VARIANTS}
    print("ns per fd system call (median of %d rounds)  none   shared "
          "unshared | shared-none unshared-none" % a.rounds)
    for k, name in (("raw", "syscall()"), ("libc", "libc recv()")):
        n, s, u = (med[v][k] for v in VARIANTS)
        print("%-40s %6.1f %6.1f %6.1f | %+11.1f %+13.1f"
              % (name, n, s, u, s - n, u - n))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": res, "median": med}, f, indent=1)


if __name__ == "__main__":
    main()
