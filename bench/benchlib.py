"""Shared pieces of the benchmarks: build, processes, collectors, wrk,
/proc accounting.

Every process a benchmark starts goes through Procs, which kills it (its
process group, by the PID it was started with) when the benchmark ends,
whether it ends normally, by an exception, or by SIGINT/SIGTERM."""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SW_BENCH_BUILD", os.path.join(ROOT, "build-bench"))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TARGETS = ["sw_preload", "sw_reporter", "bench_io", "bench_loopback",
           "bench_reporter", "bench_grpc_sink", "reporter_driver",
           "bench_spawn", "bench_fdtable"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
TICK_NS = 1000000000 // CLK_TCK
NCPU = os.cpu_count() or 1


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def build():
    """Configures and builds what the benchmarks run (once per shell:
    run.sh sets SW_BENCH_BUILT)."""
    if os.environ.get("SW_BENCH_BUILT") == BUILD:
        return
    # A new build directory is configured without the integration tests
    # (nothing here runs them); an existing one keeps its own settings.
    cfg = ["cmake", "-S", ROOT, "-B", BUILD]
    if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
        cfg.append("-DSW_INTEGRATION=OFF")
    subprocess.run(cfg, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "-j%d" % NCPU, "--target"]
                   + TARGETS, check=True, stdout=subprocess.DEVNULL)
    os.environ["SW_BENCH_BUILT"] = BUILD


def preload():
    return os.path.join(BUILD, "libswpreload.so")


def binary(name):
    return os.path.join(BUILD, name)


def need_tool(name, package=None):
    if shutil.which(name) is None:
        raise SystemExit("bench: %s not found (apt-get install %s, or "
                         "scripts/setup.sh --bench)" % (name, package or name))


def _default_sigint():
    """A benchmark started in the background by a shell inherits SIGINT
    ignored; its children must not (python's http.server exits cleanly,
    running the agent's exit flush, only on SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Procs:
    """Processes started by a benchmark; all killed at the end."""

    def __init__(self):
        self.procs = []
        atexit.register(self.kill_all)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, sig, frame):
        self.kill_all()
        sys.exit(128 + sig)

    def start(self, cmd, env=None, stdout=None, stderr=None, cpus=None,
              **kw):
        if cpus is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", cpus] + list(cmd)
        p = subprocess.Popen(cmd, env=env, stdout=stdout or subprocess.DEVNULL,
                             stderr=stderr or subprocess.DEVNULL,
                             start_new_session=True,
                             preexec_fn=_default_sigint, **kw)
        self.procs.append(p)
        return p

    def run(self, cmd, env=None, stdout=None, timeout=None, check=False):
        """Runs cmd to completion (killed with the rest if the benchmark
        is interrupted); returns (returncode, stdout text or None)."""
        p = self.start(cmd, env=env, stdout=stdout)
        try:
            out, _ = p.communicate(timeout=timeout)
        finally:
            if p.poll() is None:
                self.stop(p)
            elif p in self.procs:
                self.procs.remove(p)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (status %d)" % (cmd[0], p.returncode))
        text = out.decode(errors="replace") if out is not None else None
        return p.returncode, text

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """Asks p (and its process group) to stop, then kills it."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # stragglers in its group
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.wait(5)
        if p in self.procs:
            self.procs.remove(p)

    def kill_all(self):
        for p in list(self.procs):
            try:
                self.stop(p, timeout=5)
            except Exception:
                pass


def wait_file(path, proc=None, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited before writing %s" % path)
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for %s" % path)


def listening(port):
    """Whether some socket listens on TCP port (from /proc/net/tcp*),
    found without connecting: a connection would be the first one a
    preloaded server traces, and start its reporter."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and \
                            int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def wait_listen(port, proc=None, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited (status %s)" % proc.returncode)
        if listening(port):
            return
        time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


def wait_port(port, proc=None, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited (status %s)" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Collector:
    """The gRPC backend the preloaded processes report to.

    kind "sink": bench_grpc_sink (C, acknowledges without decoding);
    kind "python": scripts/sw_collector.py --discard."""

    def __init__(self, procs, kind="sink", cpus=None):
        self.procs = procs
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="swbench_coll_")
        pf = os.path.join(self.dir, "port.json")
        self.out = open(os.path.join(self.dir, "out.txt"), "w+")
        if kind == "sink":
            cmd = [binary("bench_grpc_sink"), "-f", pf]
        elif kind == "python":
            cmd = [PYTHON, os.path.join(ROOT, "scripts", "sw_collector.py"),
                   "--grpc-port", "0", "--port-file", pf, "--discard"]
        else:
            raise ValueError(kind)
        self.p = procs.start(cmd, stdout=self.out, stderr=self.out, cpus=cpus)
        wait_file(pf, self.p)
        self.port = json.load(open(pf))["grpc"]

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.procs.stop(self.p, signal.SIGTERM)
        self.out.seek(0)
        text = self.out.read()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return text


def agent_env(collector, service, base=None, **extra):
    """Environment of a preloaded process reporting to collector."""
    env = dict(base if base is not None else os.environ)
    for k in list(env):
        if k.startswith("SW_AGENT_") or k.startswith("SW_PLUGIN_"):
            del env[k]
    env["LD_PRELOAD"] = preload()
    env["SW_AGENT_NAME"] = service
    env["SW_AGENT_COLLECTOR_BACKEND_SERVICES"] = collector.address
    # Stats of drops are printed at exit with DEBUG; hooks never log.
    env["SW_AGENT_LOGGING_LEVEL"] = "DEBUG"
    for k, v in extra.items():
        env[k] = str(v)
    return env


def bare_env(base=None):
    env = dict(base if base is not None else os.environ)
    env.pop("LD_PRELOAD", None)
    for k in list(env):
        if k.startswith("SW_AGENT_") or k.startswith("SW_PLUGIN_"):
            del env[k]
    return env


def parse_agent_stats(text):
    """The last "stats:" line the agent logged (at exit), as a dict."""
    stats = {}
    for line in text.splitlines():
        if "stats:" in line:
            stats = dict(kv.split("=", 1) for kv in
                         line.split("stats:", 1)[1].split() if "=" in kv)
    return {k: int(v) for k, v in stats.items()}


# ---------------------------------------------------------------- /proc

def descendants(pid):
    """pid and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, tid)) as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def _stat_ticks(path):
    """utime + stime from a /proc .../stat file, in clock ticks (OSError
    when the process or thread is gone)."""
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _cpu_clock_ns(pid):
    """CPU time of process pid (all its threads, live and exited) in ns:
    its CPU-time clock (clock_getcpuclockid()'s id, which Python lacks:
    CPUCLOCK_SCHED of ~pid). The same sum as utime + stime, which /proc
    gives in clock ticks only."""
    return time.clock_gettime_ns(((~pid) << 3) | 2)


def cpu_ns(pids):
    """CPU time (user + system) of each process, all its threads, live
    and exited, in ns, summed. From the process's CPU-time clock, or
    utime + stime in ticks (/proc/PID/stat) where that clock is refused:
    a 1 s run of a server is about 100 ticks, so ticks alone would round
    each run's figure per request by up to 1%."""
    total = 0
    for p in pids:
        try:
            total += _cpu_clock_ns(p)
        except OSError:
            try:
                total += _stat_ticks("/proc/%d/stat" % p) * TICK_NS
            except OSError:
                pass
    return total


# The name the preload object gives its reporter thread (comm).
AGENT_THREAD = "sw-reporter"


def agent_ns(pids):
    """CPU time of the agent's reporter thread(s) among the live threads
    of pids, in ns: the part of cpu_ns() that the application's own
    threads did not spend. From /proc/.../schedstat (the time on CPU,
    in ns), or utime + stime in ticks without it: the reporter runs a few
    ticks a second, which ticks would round by a third."""
    total = 0
    for p in pids:
        try:
            tids = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tids:
            task = "/proc/%d/task/%s/" % (p, t)
            try:
                with open(task + "comm") as f:
                    if f.read().strip() != AGENT_THREAD:
                        continue
                try:
                    with open(task + "schedstat") as f:
                        total += int(f.read().split()[0])
                except OSError:
                    total += _stat_ticks(task + "stat") * TICK_NS
            except OSError:
                pass
    return total


def cpu_stat():
    """(total, steal, busy) clock ticks of each CPU so far, from
    /proc/stat; busy is the time programs ran on it (user, nice,
    system), interrupts and steal apart."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3:4].isdigit():
                v = [int(x) for x in line.split()[1:9]]
                out[line.split()[0]] = (sum(v), v[7], sum(v[0:3]))
    return out


def steal_pct(before, after):
    """The largest share of any CPU's time, in percent, that the
    hypervisor gave to someone else between two cpu_stat() readings.
    On a virtual machine whose host is busy, a process's CPU time per
    request grows with it for whichever variant happens to be running;
    0 on bare metal."""
    worst = 0.0
    for cpu, (t1, s1, _) in after.items():
        t0, s0, _ = before.get(cpu, after[cpu])
        if t1 > t0:
            worst = max(worst, 100.0 * (s1 - s0) / (t1 - t0))
    return worst


def others_pct(before, after, cpu, ticks):
    """The share of one CPU, in percent, that went to anything but the
    ticks (utime + stime) of the processes pinned to it: other programs
    running on the machine, which evict their caches."""
    t0, _, b0 = before[cpu]
    t1, _, b1 = after[cpu]
    return 100.0 * max(0, (b1 - b0) - ticks) / (t1 - t0) if t1 > t0 else 0.0


def vm_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "nproc %d, %s, load average %s" % (NCPU, model, loadavg())


# ---------------------------------------------------------------- wrk

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else float("nan")


def parse_wrk(out):
    r = {"requests": 0, "rps": 0.0, "p50_ms": float("nan"),
         "p99_ms": float("nan"), "errors": 0, "non2xx": 0}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, out, re.M)
        if m:
            r[key] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        r["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


def run_wrk(url, seconds, conns, threads=1, cpus=None, procs=None):
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
           "--latency", url]
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus] + cmd
    p = procs.start(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=seconds + 60)
    procs.procs.remove(p)
    return parse_wrk(out.decode(errors="replace")), out.decode(errors="replace")


# ---------------------------------------------------------------- stats

def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def fmt(x, nd=2):
    if x is None or x != x:
        return "n/a"
    return ("%%.%df" % nd) % x
