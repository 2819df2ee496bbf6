#!/usr/bin/python3
"""Hook cost in instructions (valgrind callgrind): deterministic counts,
bare vs preloaded.

  bench/hooks.py [--quick] [--only io,loopback,nginx] [--keep DIR]
                 [--json FILE] [--cache] [--env K=V ...]

io:       tests/helpers/bench_io: N write()s to a regular file, N read()s
          from it, N write()/read() calls on a pipe. Only the loop is
          counted (--toggle-collect=bench_loop_*); the result is
          instructions per call, preloaded minus bare.
loopback: tests/helpers/bench_loopback: one process, a client thread and a
          server thread exchanging HTTP/1.1 requests over one keep-alive
          loopback connection (under the preload: one exit span with sw8
          injected on the client, one entry span with the sw8 parsed on
          the server, per exchange). Every thread is counted separately
          (--separate-threads=yes), and run twice, with N1 and N2
          exchanges: (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost per
          exchange with every one-off cost (start-up, loading the
          reporter, connecting to the collector) cancelled out. The
          reporter thread is reported on its own.
nginx:    nginx (master_process off, one process) under callgrind, a
          keep-alive client outside valgrind sending N1 and then N2
          requests for a 1 KiB static file; the same differencing, for
          nginx's own thread and for the reporter thread.
The reporter sends to bench_grpc_sink. The flat profile of the
preloaded runs (instructions per request by function, exclusive) is
printed too, for finding where the cost is.

--cache:  the nginx case with callgrind's cache simulation
          (--cache-sim=yes), I1 and D1 as this machine's (sysfs), the
          last level sized like its L2 (one core's, the cache nginx
          and its reporter thread share on CPU 0). Requests N1/N2 are
          chosen so that the ring (8,192 nginx records by default) has
          wrapped before N1 and wraps twice between N1 and N2 (9192/
          25576). Per request,
          bare vs preloaded, for the nginx thread and the reporter
          thread: instructions, I1/D1 misses, LL misses, system calls;
          the nginx thread's split by object (nginx, libc,
          libswpreload.so, other; the kernel is not simulated) and the
          functions whose data misses grow most. valgrind runs one thread at
          a time on one simulated cache, as nginx and its reporter
          thread share one CPU in bench/servers.py.
--env K=V: added to the environment of every preloaded run (the
          agent's SW_AGENT_* variables are otherwise cleared), e.g.
          SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE=1024."""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402


# --env K=V: added to every preloaded run's environment.
PRE_ENV = {}


def totals(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


# A thread's role, by a function only that thread runs.
MARKERS = (("reporter", "reporter_main"), ("server", "bench_serve_loop"),
           ("client", "bench_client_loop"))


def role_of(path):
    with open(path, errors="replace") as f:
        text = f.read()
    for role, fn in MARKERS:
        if re.search(r"^c?fn=\(\d+\) %s$" % fn, text, re.M):
            return role
    return "main" if path.endswith("-01") else "thread" + path.rsplit("-", 1)[1]


def thread_files(prefix):
    """{role: total Ir} for the per-thread files of one callgrind run
    (roles: see MARKERS; "main" for an unmarked first thread)."""
    out = {}
    for path in sorted(glob.glob(prefix + "*-*")):
        role = role_of(path)
        out[role] = out.get(role, 0) + totals(path)
    return out


def thread_file(work, prefix, role):
    """The callgrind file of the thread with that role."""
    for path in sorted(glob.glob(os.path.join(work, prefix + "*-*"))):
        if role_of(path) == role:
            return path
    return None


def short_name(raw):
    """"dir/file.c:fn [dir/obj.so]" -> "fn (obj.so)"."""
    m = re.match(r"(.*?):(\S+)\s*(\[.*\])?$", raw)
    if not m:
        return raw
    src, fn, obj = m.group(1), m.group(2), m.group(3)
    where = os.path.basename(obj.strip("[]")) if obj else os.path.basename(src)
    return "%s (%s)" % (fn, where)


def flat_profile(path):
    """{function: exclusive Ir} of one callgrind file."""
    p = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no",
                        "--show=Ir", path],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    rows = {}
    for line in p.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([\d. %]+\)\s+)?(\S.*)$", line)
        if not m or "PROGRAM TOTALS" in line or "file:function" in line \
                or "=>" in line or "events annotated" in line:
            continue
        name = m.group(2).strip()
        rows[name] = rows.get(name, 0) + int(m.group(1).replace(",", ""))
    return rows


def diff_profiles(a_path, b_path, n, top=14):
    """Exclusive instructions per unit, (B - A) / n, by function."""
    a = flat_profile(a_path)
    b = flat_profile(b_path)
    per = {}
    for name, ir in b.items():
        short = short_name(name)
        per[short] = per.get(short, 0.0) + (ir - a.get(name, 0)) / n
    rows = sorted(((v, k) for k, v in per.items()), reverse=True)
    return rows[:top]


def callgrind(procs, cmd, out, env=None, extra=()):
    """Runs cmd under callgrind; its exit status."""
    full = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    full += list(extra) + list(cmd)
    return procs.run(full, env=env, timeout=3600)[0]


# ---------------------------------------------------------------- io

def bench_io(procs, work, n):
    res = {}
    for mode in ("file-write", "file-read", "pipe"):
        row = {}
        for kind in ("bare", "pre"):
            env = B.bare_env()
            if kind == "pre":
                env["LD_PRELOAD"] = B.preload()
                env.update(PRE_ENV)
            out = os.path.join(work, "io.%s.%s" % (mode, kind))
            if callgrind(procs, [B.binary("bench_io"), mode, str(n)], out,
                         env, ["--toggle-collect=bench_loop_*"]) != 0:
                raise RuntimeError("bench_io failed under callgrind")
            row[kind] = totals(out) / n
        row["added"] = row["pre"] - row["bare"]
        res[mode] = row
        B.log("  io %-10s bare %6.1f  pre %6.1f  added %6.1f instructions/call"
              % (mode, row["bare"], row["pre"], row["added"]))
    return res


# ---------------------------------------------------------------- loopback

def bench_loopback(procs, work, coll, n1, n2):
    runs = {}
    for kind in ("bare", "pre"):
        for n in (n1, n2):
            env = B.bare_env()
            if kind == "pre":
                env = B.agent_env(coll, "bench-loopback")
                env["SW_AGENT_LOGGING_LEVEL"] = "WARNING"
                env.update(PRE_ENV)
            prefix = os.path.join(work, "lo.%s.%d" % (kind, n))
            rc = callgrind(procs, [B.binary("bench_loopback"), str(n)],
                           prefix + ".%p", env, ["--separate-threads=yes"])
            if rc != 0:
                raise RuntimeError("bench_loopback failed under callgrind")
            runs[(kind, n)] = thread_files(prefix + ".")
    res = {}
    dn = n2 - n1
    for kind in ("bare", "pre"):
        a, b = runs[(kind, n1)], runs[(kind, n2)]
        res[kind] = {role: (b.get(role, 0) - a.get(role, 0)) / dn
                     for role in b}
    roles = {"client": "client thread", "server": "server thread",
             "reporter": "reporter thread"}
    out = {}
    for role, label in roles.items():
        bare = res["bare"].get(role, 0.0)
        pre = res["pre"].get(role, 0.0)
        out[role] = {"label": label, "bare": bare, "pre": pre,
                     "added": pre - bare}
        B.log("  loopback %-16s bare %8.0f  pre %8.0f  added %8.0f "
              "instructions/exchange" % (label, bare, pre, pre - bare))
    # The one-off costs (loading the reporter and libcurl) land on
    # whichever of client and server tracks a connection first, which can
    # differ between the N1 and N2 runs, so the two application threads
    # are only reliable as a sum.
    app = {k: out["client"][k] + out["server"][k]
           for k in ("bare", "pre", "added")}
    app["label"] = "client+server threads"
    out["app"] = app
    B.log("  loopback %-16s bare %8.0f  pre %8.0f  added %8.0f "
          "instructions/exchange" % (app["label"], app["bare"], app["pre"],
                                     app["added"]))
    for role, key in (("server", "server_profile"),
                      ("client", "client_profile"),
                      ("reporter", "reporter_profile")):
        fa = thread_file(work, "lo.pre.%d." % n1, role)
        fb = thread_file(work, "lo.pre.%d." % n2, role)
        if fa and fb:
            out[key] = diff_profiles(fa, fb, dn)
    return out


# ---------------------------------------------------------------- nginx

NGINX_CONF = """
{user}
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
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

CLIENT = r"""
import http.client, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for i in range(n):
    c.request("GET", "/file.txt")
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
"""


def nginx_run(procs, work, kind, n, coll, extra=()):
    d = tempfile.mkdtemp(prefix="swbench_ngx_", dir=work)
    os.mkdir(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "file.txt"), "wb") as f:
        f.write(b"x" * 1024)
    port = B.free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(user=user, dir=d, port=port))
    env = B.bare_env()
    if kind == "pre":
        env = B.agent_env(coll, "bench-nginx")
        env["SW_AGENT_LOGGING_LEVEL"] = "WARNING"
        env.update(PRE_ENV)
    prefix = os.path.join(work, "ngx.%s.%d" % (kind, n))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = procs.start(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                     "--callgrind-out-file=" + prefix + ".%p"] + list(extra)
                    + [nginx, "-c", conf, "-p", d], env=env)
    B.wait_listen(port, p, timeout=120)
    procs.run([B.PYTHON, "-c", CLIENT, str(n), str(port)], timeout=3600,
              check=True)
    time.sleep(1.5)  # the reporter sends what the last requests made
    procs.stop(p, signal.SIGTERM, timeout=60)
    return thread_files(prefix + ".")


def bench_nginx(procs, work, coll, n1, n2, extra=()):
    res = {}
    for kind in ("bare", "pre"):
        a = nginx_run(procs, work, kind, n1, coll, extra)
        b = nginx_run(procs, work, kind, n2, coll, extra)
        res[kind] = {role: (b.get(role, 0) - a.get(role, 0)) / (n2 - n1)
                     for role in b}
    out = {}
    for role, label in (("main", "nginx thread"),
                        ("reporter", "reporter thread")):
        bare = res["bare"].get(role, 0.0)
        pre = res["pre"].get(role, 0.0)
        out[role] = {"label": label, "bare": bare, "pre": pre,
                     "added": pre - bare}
        B.log("  nginx    %-16s bare %8.0f  pre %8.0f  added %8.0f "
              "instructions/request" % (label, bare, pre, pre - bare))
    fa, fb = thread_file(work, "ngx.pre.%d." % n1, "main"), \
        thread_file(work, "ngx.pre.%d." % n2, "main")
    if fa and fb:
        out["nginx_profile"] = diff_profiles(fa, fb, n2 - n1)
    fa, fb = thread_file(work, "ngx.pre.%d." % n1, "reporter"), \
        thread_file(work, "ngx.pre.%d." % n2, "reporter")
    if fa and fb:
        out["reporter_profile"] = diff_profiles(fa, fb, n2 - n1)
    return out


# ---------------------------------------------------------------- cache

def _sysfs_size(text):
    m = re.match(r"(\d+)([KMG]?)$", text.strip())
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def sysfs_caches(cpu=0):
    """{(level, type): (size, ways, line)} of one CPU's caches, from
    sysfs; {} when it is not there."""
    out = {}
    for d in glob.glob("/sys/devices/system/cpu/cpu%d/cache/index*" % cpu):
        try:
            def rd(name):
                with open(os.path.join(d, name)) as f:
                    return f.read().strip()
            out[(int(rd("level")), rd("type"))] = (
                _sysfs_size(rd("size")), int(rd("ways_of_associativity")),
                int(rd("coherency_line_size")))
        except (OSError, ValueError, AttributeError):
            continue
    return out


def sim_geometry(size, ways, line):
    """(size, ways, line) as valgrind's simulator takes it: the number of
    sets must be a power of two, so another count of ways keeps the size
    when it is not (1.25 MiB 16-way, 1280 sets -> 20-way, 1024 sets), as
    valgrind itself does for the caches it detects. None if no count of
    ways fits."""
    sets = size // (ways * line)
    if sets > 0 and sets & (sets - 1) == 0 and sets * ways * line == size:
        return size, ways, line
    sets = 1 << (max(sets, 1).bit_length() - 1)
    if size % (sets * line) == 0:
        return size, size // (sets * line), line
    return None


# A core's L2 when sysfs does not tell (this benchmark's machine: Xeon,
# 1.25 MiB per core).
LL_FALLBACK = (1280 << 10, 16, 64)


def cache_options():
    """valgrind options of the cache simulation, and the geometry used:
    I1 and D1 as this machine's, the last level as one core's L2 (nginx
    and its reporter thread run on one CPU: the L3 is shared with
    everything else on the host). Without sysfs, I1 and D1 are left to
    valgrind's own detection."""
    found = sysfs_caches()
    opts = ["--cache-sim=yes", "--collect-systime=yes"]
    geo = {}
    for key, opt in (((1, "Instruction"), "I1"), ((1, "Data"), "D1"),
                     ((2, "Unified"), "LL")):
        g = found.get(key)
        g = sim_geometry(*g) if g else None
        if g is None and opt == "LL":
            g = sim_geometry(*LL_FALLBACK)
        if g is not None:
            opts.append("--%s=%d,%d,%d" % ((opt,) + g))
            geo[opt] = g
    return opts, geo


# Events of a cache-simulation run, as callgrind names them; sysCount
# (system calls) comes from --collect-systime.
SIM_EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw",
              "sysCount")


def callgrind_costs(path):
    """({(object, function): exclusive costs}, totals, {function: calls
    to it}) of one callgrind file, each cost a list in SIM_EVENTS order.
    Read here rather than with callgrind_annotate, which gives code
    inlined from another source file (fi=/fe= lines) no object, so a
    split by object would miss it.
    The costs sum to the file's totals (checked)."""
    events, npos = [], 1
    names = {"ob": {}, "fl": {}, "fn": {}}
    space = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl",
             "cfi": "fl", "cfl": "fl", "fn": "fn", "cfn": "fn",
             "jfi": "fl", "jfn": "fn"}
    costs, tot, calls = {}, None, {}
    obj, fn, cfn, after_call = "???", "???", "???", False

    def name(kind, text):
        m = re.match(r"\((\d+)\)(?: (.*))?$", text)
        if not m:
            return text
        table = names[space[kind]]
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), "???")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if after_call:  # the inclusive cost of the call above
                    after_call = False
                    continue
                vals = line.split()[npos:]
                row = costs.setdefault((obj, fn), [0] * len(events))
                for i, v in enumerate(vals):
                    row[i] += int(v)
                continue
            key, _, val = line.partition("=")
            if key in space and _:
                v = name(key, val)
                if key == "ob":
                    obj = v
                elif key == "fn":
                    fn = v
                elif key == "cfn":
                    cfn = v
            elif key == "calls":
                after_call = True
                calls[cfn] = calls.get(cfn, 0) + int(val.split()[0])
            elif line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("positions:"):
                npos = len(line.split()) - 1
            elif line.startswith("totals:") or line.startswith("summary:"):
                tot = [int(x) for x in line.split()[1:]]
    want = [events.index(e) if e in events else None for e in SIM_EVENTS]

    def pick(row):
        row = list(row) + [0] * (len(events) - len(row))
        return [row[i] if i is not None else 0 for i in want]

    out = {k: pick(v) for k, v in costs.items()}
    tot = pick(tot or [])
    sums = [sum(v[i] for v in out.values()) for i in range(len(SIM_EVENTS))]
    if sums != tot:
        raise RuntimeError("%s: costs by function %s, totals %s"
                           % (path, sums, tot))
    return out, tot, calls


def segment_sends(calls):
    """Calls of a transport's send_segments (one per batch the reporter
    sends)."""
    return sum(n for f, n in calls.items() if f.endswith("_send_segments"))


# What the per-request table shows: (label, events summed).
SIM_ROWS = (("Ir", ("Ir",)), ("I1 misses", ("I1mr",)),
            ("D1 misses (r+w)", ("D1mr", "D1mw")),
            ("LL data misses (r+w)", ("DLmr", "DLmw")),
            ("LL instr misses", ("ILmr",)), ("system calls", ("sysCount",)))


def _sim_sum(costs, evs):
    x = sum(costs[SIM_EVENTS.index(e)] for e in evs)
    return 0.0 if abs(x) < 0.005 else x  # no "-0.0" from the differencing


def object_group(obj):
    base = os.path.basename(obj)
    if base == "nginx":
        return "nginx"
    if base.startswith("libc.so"):
        return "libc"
    if base == "libswpreload.so":
        return "libswpreload.so"
    return "other"


OBJECT_GROUPS = ("nginx", "libc", "libswpreload.so", "other")


def nginx_cache(work, n1, n2, geo, top=12):
    """Per request, (N2 run - N1 run) / (N2 - N1), bare and preloaded:
    the events of SIM_ROWS by thread; the nginx thread's by object group
    and, for the functions whose misses grow most, by function."""
    dn = float(n2 - n1)
    per = {}  # (kind, role) -> ({(obj, fn): costs per request}, totals)
    sends = 0
    for kind in ("bare", "pre"):
        for role in ("main", "reporter"):
            fa = thread_file(work, "ngx.%s.%d." % (kind, n1), role)
            fb = thread_file(work, "ngx.%s.%d." % (kind, n2), role)
            if not (fa and fb):
                continue
            ca, ta, ka = callgrind_costs(fa)
            cb, tb, kb = callgrind_costs(fb)
            if (kind, role) == ("pre", "reporter"):
                sends = segment_sends(kb) - segment_sends(ka)
            zero = [0] * len(SIM_EVENTS)
            fns = {k: [(y - x) / dn for x, y in zip(ca.get(k, zero), v)]
                   for k, v in cb.items()}
            for k, v in ca.items():
                if k not in cb:
                    fns[k] = [-x / dn for x in v]
            per[(kind, role)] = (fns, [(y - x) / dn for x, y in zip(ta, tb)])
    zero = [0.0] * len(SIM_EVENTS)
    out = {"geometry": {k: list(v) for k, v in geo.items()},
           "n": [n1, n2], "threads": {}, "nginx_objects": {},
           "nginx_functions": []}
    for role, label in (("main", "nginx thread"),
                        ("reporter", "reporter thread")):
        rows = {}
        for what, evs in SIM_ROWS:
            b = _sim_sum(per.get(("bare", role), ({}, zero))[1], evs)
            p = _sim_sum(per.get(("pre", role), ({}, zero))[1], evs)
            rows[what] = {"bare": b, "pre": p, "added": p - b}
        out["threads"][role] = {"label": label, "rows": rows}
    # How many requests a batch held: the reporter's fixed cost per send
    # (and what each send evicts from the cache nginx shares) is spread
    # over them. Under valgrind it depends on the run's speed.
    out["requests_per_send"] = dn / sends if sends > 0 else None
    groups = {}
    for kind in ("bare", "pre"):
        for (obj, fn), v in per.get((kind, "main"), ({}, zero))[0].items():
            g = groups.setdefault(object_group(obj), {"bare": list(zero),
                                                      "pre": list(zero)})
            g[kind] = [x + y for x, y in zip(g[kind], v)]
    for name in OBJECT_GROUPS:
        g = groups.get(name, {"bare": zero, "pre": zero})
        rows = {}
        for what, evs in SIM_ROWS[:5]:
            b, p = _sim_sum(g["bare"], evs), _sim_sum(g["pre"], evs)
            rows[what] = {"bare": b, "pre": p, "added": p - b}
        out["nginx_objects"][name] = rows
    # The kernel is not simulated; its system calls are counted (under
    # valgrind clock_gettime and gettimeofday are system calls: it hides
    # the vDSO).
    out["nginx_objects"]["kernel"] = {"system calls": dict(
        out["threads"]["main"]["rows"]["system calls"])}
    # Functions of the nginx thread by added data misses (D1 + LL).
    bare = per.get(("bare", "main"), ({}, zero))[0]
    pre = per.get(("pre", "main"), ({}, zero))[0]
    misses = ("D1mr", "D1mw", "DLmr", "DLmw")
    ranked = []
    for k in set(bare) | set(pre):
        b, p = bare.get(k, zero), pre.get(k, zero)
        d = [y - x for x, y in zip(b, p)]
        ranked.append((abs(_sim_sum(d, misses)), k, b, p))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    for _, (obj, fn), b, p in ranked[:top]:
        out["nginx_functions"].append({
            "function": "%s (%s)" % (fn, os.path.basename(obj)),
            "bare": {w: _sim_sum(b, e) for w, e in SIM_ROWS[:5]},
            "pre": {w: _sim_sum(p, e) for w, e in SIM_ROWS[:5]}})
    return out


def print_cache(c):
    geo = ", ".join("%s %d B %d-way %d B lines" % ((k,) + tuple(v))
                    for k, v in sorted(c["geometry"].items()))
    print("nginx, callgrind --cache-sim=yes (%s), N=%d/%d; per request"
          % (geo, c["n"][0], c["n"][1]))
    print("%-17s %-22s %10s %10s %10s" % ("", "", "bare", "preloaded",
                                          "added"))
    for role in ("main", "reporter"):
        t = c["threads"][role]
        label = t["label"]
        for what, _ in SIM_ROWS:
            r = t["rows"][what]
            print("%-17s %-22s %10.1f %10.1f %+10.1f"
                  % (label, what, r["bare"], r["pre"], r["added"]))
            label = ""
    if c["requests_per_send"]:
        print("%-17s %-22s %10s %10.1f" % ("", "requests per send", "",
                                          c["requests_per_send"]))
    print("nginx thread by object (exclusive: libc called by "
          "libswpreload.so is libc's)")
    for name in OBJECT_GROUPS + ("kernel",):
        label = name if name != "kernel" else "kernel (not sim.)"
        for what, r in c["nginx_objects"][name].items():
            print("%-17s %-22s %10.1f %10.1f %+10.1f"
                  % (label, what, r["bare"], r["pre"], r["added"]))
            label = ""
    print("nginx thread functions by added data misses (D1 + LL), per "
          "request, bare -> preloaded:")
    print("  %-40s %15s %15s %15s %15s" % ("", "Ir", "D1 misses",
                                           "LL data misses", "I1 misses"))
    for f in c["nginx_functions"]:
        b, p = f["bare"], f["pre"]
        print("  %-40s %6.0f->%6.0f %6.2f->%6.2f %6.2f->%6.2f %6.2f->%6.2f"
              % (f["function"][:40], b["Ir"], p["Ir"],
                 b["D1 misses (r+w)"], p["D1 misses (r+w)"],
                 b["LL data misses (r+w)"], p["LL data misses (r+w)"],
                 b["I1 misses"], p["I1 misses"]))


def print_profile(title, rows):
    print(title)
    for ir, name in rows:
        print("  %8.0f  %s" % (ir, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="io,loopback,nginx")
    ap.add_argument("--keep", help="keep the callgrind files in this directory")
    ap.add_argument("--json")
    ap.add_argument("--cache", action="store_true",
                    help="the nginx case with cache simulation, N1/N2 "
                         "9192/25576 (docstring of bench/hooks.py)")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="add to every preloaded run's environment")
    args = ap.parse_args()
    for kv in args.env:
        k, eq, v = kv.partition("=")
        if not eq or not k:
            ap.error("--env wants K=V, not %r" % kv)
        PRE_ENV[k] = v
    B.need_tool("valgrind")
    B.build()
    procs = B.Procs()
    work = args.keep or tempfile.mkdtemp(prefix="swbench_cg_")
    os.makedirs(work, exist_ok=True)
    only = args.only.split(",")
    n_io = 20000 if args.quick else 100000
    lo = (300, 1300) if args.quick else (1000, 5000)
    ngx = (200, 700) if args.quick else (500, 4500)
    sim, geo = [], {}
    if args.cache:
        # The ring has gone round once before N1 and goes round twice
        # (once with --quick) between N1 and N2, so that the differenced
        # requests see the ring as a long-running server does: it has 8
        # lines per span of SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE
        # (rounded up to a power of two) and an nginx request's record
        # takes 4, so one lap is twice that many requests.
        size = int(PRE_ENV.get("SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE",
                               4096))
        lap = 2 * (1 << max(size - 1, 1).bit_length())
        ngx = (lap + 1000, lap + 1000 + lap * (1 if args.quick else 2))
        sim, geo = cache_options()
    B.log("hooks: callgrind; io N=%d, loopback N=%d/%d, nginx N=%d/%d; %s"
          % (n_io, lo[0], lo[1], ngx[0], ngx[1], B.machine()))
    if sim:
        B.log("hooks: nginx with %s" % " ".join(sim))
    if PRE_ENV:
        B.log("hooks: preloaded runs with %s"
              % " ".join("%s=%s" % kv for kv in sorted(PRE_ENV.items())))
    res = {}
    coll = B.Collector(procs, "sink")
    try:
        if "io" in only:
            res["io"] = bench_io(procs, work, n_io)
        if "loopback" in only:
            res["loopback"] = bench_loopback(procs, work, coll, *lo)
        if "nginx" in only:
            res["nginx"] = bench_nginx(procs, work, coll, *ngx, extra=sim)
            if args.cache:
                res["nginx"]["cache"] = nginx_cache(work, ngx[0], ngx[1],
                                                    geo)
    finally:
        coll.stop()
        procs.kill_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    if "io" in res:
        print("%-11s %10s %10s %10s   (instructions per call)"
              % ("io", "bare", "preloaded", "added"))
        for mode, r in res["io"].items():
            print("%-11s %10.1f %10.1f %10.1f" % (mode, r["bare"], r["pre"],
                                                  r["added"]))
    for key, unit in (("loopback", "exchange"), ("nginx", "request")):
        if key not in res:
            continue
        print("%-17s %10s %10s %10s   (instructions per %s)"
              % (key, "bare", "preloaded", "added", unit))
        for role in ("client", "server", "app", "main", "reporter"):
            r = res[key].get(role)
            if r:
                print("%-17s %10.0f %10.0f %10.0f" % (r["label"], r["bare"],
                                                      r["pre"], r["added"]))
    for key, title in (("loopback", "server_profile"),
                       ("loopback", "client_profile"),
                       ("loopback", "reporter_profile"),
                       ("nginx", "nginx_profile"),
                       ("nginx", "reporter_profile")):
        if key in res and title in res[key]:
            print_profile("%s %s (preloaded, exclusive instructions per %s):"
                          % (key, title.replace("_", " "),
                             "exchange" if key == "loopback" else "request"),
                          res[key][title])
    if "nginx" in res and "cache" in res["nginx"]:
        print_cache(res["nginx"]["cache"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
