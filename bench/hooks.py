#!/usr/bin/python3
"""Hook cost in instructions (valgrind callgrind): deterministic counts,
bare vs preloaded.

  bench/hooks.py [--quick] [--only io,loopback,nginx] [--keep DIR]
                 [--json FILE]

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
printed too, for finding where the cost is."""
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
                        path],
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


def nginx_run(procs, work, kind, n, coll):
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
    prefix = os.path.join(work, "ngx.%s.%d" % (kind, n))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = procs.start(["valgrind", "--tool=callgrind", "--separate-threads=yes",
                     "--callgrind-out-file=" + prefix + ".%p",
                     nginx, "-c", conf, "-p", d], env=env)
    B.wait_listen(port, p, timeout=120)
    procs.run([B.PYTHON, "-c", CLIENT, str(n), str(port)], timeout=3600,
              check=True)
    time.sleep(1.5)  # the reporter sends what the last requests made
    procs.stop(p, signal.SIGTERM, timeout=60)
    return thread_files(prefix + ".")


def bench_nginx(procs, work, coll, n1, n2):
    res = {}
    for kind in ("bare", "pre"):
        a = nginx_run(procs, work, kind, n1, coll)
        b = nginx_run(procs, work, kind, n2, coll)
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
    args = ap.parse_args()
    B.need_tool("valgrind")
    B.build()
    procs = B.Procs()
    work = args.keep or tempfile.mkdtemp(prefix="swbench_cg_")
    os.makedirs(work, exist_ok=True)
    only = args.only.split(",")
    n_io = 20000 if args.quick else 100000
    lo = (300, 1300) if args.quick else (1000, 5000)
    ngx = (200, 700) if args.quick else (500, 4500)
    B.log("hooks: callgrind; io N=%d, loopback N=%d/%d, nginx N=%d/%d; %s"
          % (n_io, lo[0], lo[1], ngx[0], ngx[1], B.machine()))
    res = {}
    coll = B.Collector(procs, "sink")
    try:
        if "io" in only:
            res["io"] = bench_io(procs, work, n_io)
        if "loopback" in only:
            res["loopback"] = bench_loopback(procs, work, coll, *lo)
        if "nginx" in only:
            res["nginx"] = bench_nginx(procs, work, coll, *ngx)
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
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
