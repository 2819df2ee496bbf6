"""Tests of the user-facing launcher (scripts/sw-preload), the Docker
entrypoint, the deployment examples and the install layout.

Most tests need no working tracer: they preload a stub shared object built
here, and check argument handling, the composed environment and the
doctor's file checks. The install tests use the real libraries from
SW_TEST_BUILD_DIR and are skipped when those are absent.

Environment: SW_TEST_SOURCE_DIR (repository root; default: derived from this
file), SW_TEST_BUILD_DIR (the CMake build directory).
"""

import os
import re
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

SRC = Path(os.environ.get("SW_TEST_SOURCE_DIR")
           or Path(__file__).resolve().parents[2])
BUILD = Path(os.environ["SW_TEST_BUILD_DIR"]) if os.environ.get(
    "SW_TEST_BUILD_DIR") else None
LAUNCHER = SRC / "scripts" / "sw-preload"
ENTRYPOINT = SRC / "scripts" / "docker-entrypoint.sh"
CC = shutil.which("cc") or shutil.which("gcc")
TIMEOUT = 120


def clean_env(**extra):
    """The test process's environment without LD_PRELOAD or SW_* settings,
    so that neither the CI environment nor the host can change results."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("SW_")}
    env.update(extra)
    return env


def run(args, env=None, **kw):
    return subprocess.run([str(a) for a in args], env=env or clean_env(),
                          capture_output=True, text=True, timeout=TIMEOUT,
                          **kw)


def env_of(stdout):
    out = {}
    for line in stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def compile_c(tmp, name, code, *flags):
    """Compiles code into tmp/name with the given flags; None on failure."""
    if CC is None:
        return None
    src = Path(tmp) / (name + ".c")
    src.write_text(code)
    out = Path(tmp) / name
    r = subprocess.run([CC, *flags, "-o", str(out), str(src)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    return out if r.returncode == 0 else None


TINY_MAIN = "int main(void) { return 0; }\n"


@pytest.fixture(scope="session")
def stubs(tmp_path_factory):
    """Stub shared objects that load and do nothing: libswpreload.so (the
    agent's stand-in) and two other preload entries liba.so and libb.so."""
    if CC is None:
        pytest.skip("no C compiler to build the stub libraries")
    d = tmp_path_factory.mktemp("stubs")
    libs = {}
    for name in ("libswpreload.so", "liba.so", "libb.so"):
        p = compile_c(d, name, "int sw_stub_%d;\n" % len(libs),
                      "-shared", "-fPIC")
        if p is None:
            pytest.skip("cannot build a shared object with " + CC)
        libs[name] = p
    return libs


@pytest.fixture
def stub_lib(stubs):
    return stubs["libswpreload.so"]


# ------------------------------------------------------------ help, usage


def test_help_mentions_commands_options_and_variables():
    r = run([LAUNCHER, "--help"])
    assert r.returncode == 0, r.stderr
    for word in ("run", "doctor", "--service", "--backend", "--protocol",
                 "--instance", "--debug", "--lib", "--version",
                 "SW_AGENT_NAME", "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                 "SW_AGENT_PROTOCOL", "SW_AGENT_INSTANCE_NAME",
                 "SW_AGENT_LOGGING_LEVEL", "LD_PRELOAD", "SW_PRELOAD_LIB"):
        assert word in r.stdout, word
    assert run([LAUNCHER, "run", "--help"]).returncode == 0
    assert run([LAUNCHER, "doctor", "--help"]).returncode == 0


def test_version_in_source_tree():
    r = run([LAUNCHER, "--version"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "sw-preload 0.1.0-dev"


@pytest.mark.parametrize("args,needle", [
    ([], "missing command"),
    (["bogus"], "unknown command"),
    (["--bogus"], "unknown command or option"),
    (["run", "--bogus", "--", "true"], "unknown option '--bogus'"),
    (["run", "true"], "put '--' before the command"),
    (["run", "--service", "x"], "missing '--'"),
    (["run", "--"], "missing command"),
    (["run", "--protocol", "smtp", "--", "true"], "bad --protocol 'smtp'"),
    (["run", "--protocol=", "--", "true"], "non-empty value"),
    (["run", "--service"], "needs a value"),
    (["doctor", "true"], "put '--' before the command"),
    (["doctor", "--"], "missing command"),
    (["doctor", "--nope", "--", "true"], "unknown option '--nope'"),
])
def test_bad_usage_exits_2_with_message(args, needle, stub_lib):
    r = run([LAUNCHER, *args], env=clean_env(SW_PRELOAD_LIB=str(stub_lib)))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert r.stdout == ""


# ------------------------------------------------------------ run


def test_run_sets_variables_from_flags(stub_lib):
    r = run([LAUNCHER, "run", "--service", "checkout", "--backend",
             "oap:11800", "--protocol", "http", "--instance", "i-1",
             "--debug", "--lib", stub_lib, "--", "env"])
    assert r.returncode == 0, r.stderr
    e = env_of(r.stdout)
    assert e["LD_PRELOAD"] == str(stub_lib)
    assert e["SW_AGENT_NAME"] == "checkout"
    assert e["SW_AGENT_COLLECTOR_BACKEND_SERVICES"] == "oap:11800"
    assert e["SW_AGENT_PROTOCOL"] == "http"
    assert e["SW_AGENT_INSTANCE_NAME"] == "i-1"
    assert e["SW_AGENT_LOGGING_LEVEL"] == "DEBUG"


def test_run_equals_form_and_untouched_variables(stub_lib):
    env = clean_env(SW_AGENT_NAME="from-env", SW_AGENT_EXCLUDE="a*,b*")
    r = run([LAUNCHER, "run", "--backend=h:1", "--protocol=kafka",
             "--lib=" + str(stub_lib), "--", "env"], env=env)
    assert r.returncode == 0, r.stderr
    e = env_of(r.stdout)
    assert e["SW_AGENT_COLLECTOR_BACKEND_SERVICES"] == "h:1"
    assert e["SW_AGENT_PROTOCOL"] == "kafka"
    assert e["SW_AGENT_NAME"] == "from-env"
    assert e["SW_AGENT_EXCLUDE"] == "a*,b*"
    assert "SW_AGENT_LOGGING_LEVEL" not in e
    assert "SW_AGENT_INSTANCE_NAME" not in e


@pytest.mark.parametrize("sep", [" ", ":", " : ", "::"])
def test_run_prepends_and_keeps_existing_entries(stubs, stub_lib, sep):
    a, b = stubs["liba.so"], stubs["libb.so"]
    env = clean_env(LD_PRELOAD="%s%s%s" % (a, sep, b))
    r = run([LAUNCHER, "run", "--lib", stub_lib, "--", "env"], env=env)
    assert r.returncode == 0, r.stderr
    assert env_of(r.stdout)["LD_PRELOAD"] == "%s:%s:%s" % (stub_lib, a, b)


def test_run_keeps_entries_it_cannot_check(stub_lib):
    # Entries are kept verbatim even when they name no file here (the
    # loader's own $LIB token, a path valid only for the program).
    env = clean_env(LD_PRELOAD="/opt/x/$LIB/liby.so")
    r = run([LAUNCHER, "run", "--lib", stub_lib, "--", "printenv", "LD_PRELOAD"],
            env=env)
    assert r.returncode == 0
    assert r.stdout.strip() == "%s:/opt/x/$LIB/liby.so" % stub_lib


@pytest.mark.parametrize("where", ["first", "last", "symlink"])
def test_run_does_not_add_twice(stubs, stub_lib, tmp_path, where):
    a = stubs["liba.so"]
    if where == "first":
        old = "%s %s" % (stub_lib, a)
    elif where == "last":
        old = "%s:%s" % (a, stub_lib)
    else:
        link = tmp_path / "link.so"
        link.symlink_to(stub_lib)
        old = "%s:%s" % (link, a)
    r = run([LAUNCHER, "run", "--lib", stub_lib, "--", "printenv", "LD_PRELOAD"],
            env=clean_env(LD_PRELOAD=old))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "%s:%s" % (stub_lib, a)


def test_run_drops_another_copy_of_the_agent(stubs, stub_lib, tmp_path):
    other = tmp_path / "other" / "libswpreload.so"
    other.parent.mkdir()
    shutil.copy(stub_lib, other)
    a = stubs["liba.so"]
    r = run([LAUNCHER, "run", "--lib", stub_lib, "--", "printenv", "LD_PRELOAD"],
            env=clean_env(LD_PRELOAD="%s:%s" % (other, a)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "%s:%s" % (stub_lib, a)
    assert "another copy" in r.stderr


def test_run_makes_a_relative_lib_absolute(stub_lib):
    r = run([LAUNCHER, "run", "--lib", stub_lib.name, "--", "printenv",
             "LD_PRELOAD"], cwd=stub_lib.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(stub_lib)


def test_run_refuses_a_library_path_with_a_separator(stub_lib, tmp_path):
    odd = tmp_path / "a dir" / "libswpreload.so"
    odd.parent.mkdir()
    shutil.copy(stub_lib, odd)
    r = run([LAUNCHER, "run", "--lib", odd, "--", "true"])
    assert r.returncode == 2
    assert "space or a colon" in r.stderr


def test_run_keeps_a_newline_inside_an_entry(stub_lib):
    # The loader separates entries by spaces and colons only.
    r = run([LAUNCHER, "run", "--lib", stub_lib, "--", "printenv",
             "LD_PRELOAD"], env=clean_env(LD_PRELOAD="x\ny: z"))
    assert r.stdout == "%s:x\ny:z\n" % stub_lib


def test_run_lib_from_environment_and_flag_precedence(stubs, stub_lib):
    r = run([LAUNCHER, "run", "--", "printenv", "LD_PRELOAD"],
            env=clean_env(SW_PRELOAD_LIB=str(stub_lib)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(stub_lib)
    other = stubs["liba.so"]
    r = run([LAUNCHER, "run", "--lib", other, "--", "printenv",
             "LD_PRELOAD"], env=clean_env(SW_PRELOAD_LIB=str(stub_lib)))
    assert r.stdout.strip() == str(other)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_missing_library_exits_2(how, tmp_path):
    missing = tmp_path / "nope" / "libswpreload.so"
    args = [LAUNCHER, "run", "--", "true"]
    env = clean_env()
    if how == "flag":
        args[2:2] = ["--lib", missing]
    else:
        env["SW_PRELOAD_LIB"] = str(missing)
    r = run(args, env=env)
    assert r.returncode == 2
    assert str(missing) in r.stderr and "no such file" in r.stderr


def copy_launcher(dest_dir):
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / "sw-preload"
    shutil.copy(LAUNCHER, dest)
    dest.chmod(0o755)
    return dest


@pytest.mark.parametrize("layout", [
    ("bin", "lib/swpreload"),
    ("bin", "lib/x86_64-linux-gnu/swpreload"),
    ("bin", "lib/aarch64-linux-gnu/swpreload"),
    ("scripts", "build"),
])
def test_run_finds_library_next_to_the_script(stub_lib, tmp_path, layout):
    bindir, libdir = layout
    script = copy_launcher(tmp_path / bindir)
    target = tmp_path / libdir / "libswpreload.so"
    target.parent.mkdir(parents=True)
    shutil.copy(stub_lib, target)
    r = run([script, "run", "--", "printenv", "LD_PRELOAD"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(target.resolve())


def test_run_through_a_symlink_to_the_script(stub_lib, tmp_path):
    script = copy_launcher(tmp_path / "prefix" / "bin")
    target = tmp_path / "prefix" / "lib" / "swpreload" / "libswpreload.so"
    target.parent.mkdir(parents=True)
    shutil.copy(stub_lib, target)
    link = tmp_path / "elsewhere" / "sw-preload"
    link.parent.mkdir()
    link.symlink_to(script)
    r = run([link, "run", "--", "printenv", "LD_PRELOAD"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(target.resolve())


def test_run_without_any_library_exits_2(tmp_path):
    script = copy_launcher(tmp_path / "bin")
    r = run([script, "run", "--", "true"])
    assert r.returncode == 2
    assert "libswpreload.so not found" in r.stderr
    assert "--lib" in r.stderr


def test_run_execs_and_passes_exit_status(stub_lib):
    p = subprocess.Popen([str(LAUNCHER), "run", "--lib", str(stub_lib), "--",
                          "sh", "-c", 'echo $$; exit 7'],
                         env=clean_env(), stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 7
    # exec: the command keeps the launcher's PID.
    assert int(out.strip()) == p.pid


def test_run_missing_command_exits_127(stub_lib):
    r = run([LAUNCHER, "run", "--lib", stub_lib, "--", "no-such-command-xyz"])
    assert r.returncode == 127


# ------------------------------------------------------------ doctor


def doctor(*args, lib=None, env=None):
    pre = ["--lib", lib] if lib is not None else []
    return run([LAUNCHER, "doctor", *pre, *args], env=env)


def test_doctor_dynamic_binary_is_instrumentable(stub_lib):
    r = doctor("--", "true", lib=stub_lib)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dynamically linked" in r.stdout
    assert "can be instrumented" in r.stdout
    assert "backend not checked" in r.stdout


def test_doctor_static_binary(stub_lib, tmp_path):
    exe = compile_c(tmp_path, "static_app", TINY_MAIN, "-static")
    if exe is None:
        pytest.skip("cc -static does not work here")
    r = doctor("--", exe, lib=stub_lib)
    assert r.returncode == 1, r.stdout
    assert "statically linked" in r.stdout
    assert "cannot be instrumented" in r.stdout


@pytest.mark.parametrize("bit,word", [(stat.S_ISUID, "setuid"),
                                      (stat.S_ISGID, "setgid")])
def test_doctor_setuid_setgid(stub_lib, tmp_path, bit, word):
    exe = tmp_path / "true_copy"
    shutil.copy("/bin/true", exe)
    exe.chmod(0o755 | bit)
    r = doctor("--", exe, lib=stub_lib)
    assert r.returncode == 1, r.stdout
    assert word in r.stdout
    assert "LD_PRELOAD" in r.stdout


def test_doctor_script_checks_interpreter(stub_lib, tmp_path):
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    r = doctor("--", script, lib=stub_lib)
    assert r.returncode == 0, r.stdout
    assert "is a script" in r.stdout and "/bin/sh" in r.stdout
    assert "can be instrumented" in r.stdout


def test_doctor_env_script_on_path(stub_lib, tmp_path):
    script = tmp_path / "hello"
    script.write_text("#!/usr/bin/env sh\necho hello\n")
    script.chmod(0o755)
    env = clean_env(PATH="%s:%s" % (tmp_path, os.environ.get("PATH", "")))
    r = doctor("--", "hello", lib=stub_lib, env=env)
    assert r.returncode == 0, r.stdout
    assert "is a script" in r.stdout and "'sh'" in r.stdout


def test_doctor_script_with_static_interpreter(stub_lib, tmp_path):
    exe = compile_c(tmp_path, "static_interp", TINY_MAIN, "-static")
    if exe is None:
        pytest.skip("cc -static does not work here")
    script = tmp_path / "s"
    script.write_text("#!%s\n" % exe)
    script.chmod(0o755)
    r = doctor("--", script, lib=stub_lib)
    assert r.returncode == 1
    assert "is a script" in r.stdout and "statically linked" in r.stdout


def test_doctor_missing_command(stub_lib):
    r = doctor("--", "no-such-command-xyz", lib=stub_lib)
    assert r.returncode == 1
    assert "not found" in r.stdout


def test_doctor_not_executable(stub_lib, tmp_path):
    f = tmp_path / "plain"
    f.write_text("data\n")
    f.chmod(0o644)
    r = doctor("--", f, lib=stub_lib)
    assert r.returncode == 1
    assert "not executable" in r.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_doctor_unreadable(stub_lib, tmp_path):
    exe = tmp_path / "true_copy"
    shutil.copy("/bin/true", exe)
    exe.chmod(0o111)
    r = doctor("--", exe, lib=stub_lib)
    assert r.returncode == 1
    assert "not readable" in r.stdout


def test_doctor_musl_interpreter(stub_lib, tmp_path):
    # Linked with a musl loader path; never run, only inspected.
    exe = compile_c(tmp_path, "musl_app", TINY_MAIN,
                    "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1")
    if exe is None:
        pytest.skip("cannot set the dynamic linker path")
    r = doctor("--", exe, lib=stub_lib)
    assert r.returncode == 1
    assert "musl" in r.stdout


@pytest.mark.parametrize("static", [False, True])
def test_doctor_go_binary(stub_lib, tmp_path, static):
    objcopy = shutil.which("objcopy")
    if objcopy is None:
        pytest.skip("objcopy (binutils) not installed")
    exe = compile_c(tmp_path, "app", TINY_MAIN,
                    *(["-static"] if static else []))
    if exe is None:
        pytest.skip("cannot build the test binary")
    note = tmp_path / "note"
    note.write_bytes(b"\x04\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00Go\x00"
                     b"\x00buildid!")
    go = tmp_path / "goapp"
    r = subprocess.run([objcopy, "--add-section",
                        ".note.go.buildid=%s" % note, str(exe), str(go)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = doctor("--", go, lib=stub_lib)
    assert r.returncode == 1, r.stdout
    assert "Go" in r.stdout
    if static:
        assert "statically linked" in r.stdout
    else:
        assert "raw system calls" in r.stdout


def test_doctor_library_missing(tmp_path):
    r = doctor("--", "true", lib=tmp_path / "libswpreload.so")
    assert r.returncode == 1
    assert "agent library" in r.stdout and "no such file" in r.stdout


def test_doctor_library_not_elf(tmp_path):
    fake = tmp_path / "libswpreload.so"
    fake.write_text("not a library\n")
    r = doctor("--", "true", lib=fake)
    assert r.returncode == 1
    assert "not an ELF shared object" in r.stdout


def test_doctor_without_readelf(stub_lib, tmp_path):
    # A PATH holding the tools the launcher uses, minus readelf.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "env", "readlink", "sed", "head", "grep", "uname",
                 "true", "timeout"):
        path = shutil.which(tool)
        if path:
            (bindir / tool).symlink_to(path)
    r = run([shutil.which("bash"), LAUNCHER, "doctor", "--lib", stub_lib, "--",
             "true"], env=clean_env(PATH=str(bindir)))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "readelf (binutils) is not installed" in r.stdout


def test_doctor_exclude_and_disable_warnings(stub_lib):
    env = clean_env(SW_AGENT_EXCLUDE="foo, tr*", SW_AGENT_DISABLE="true")
    r = doctor("--", "true", lib=stub_lib, env=env)
    assert r.returncode == 0
    assert "matches SW_AGENT_EXCLUDE pattern 'tr*'" in r.stdout
    assert "SW_AGENT_DISABLE=true" in r.stdout


@pytest.fixture
def listening_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def closed_port():
    # Bound but not listening: the port stays ours, and a connect to it is
    # refused at once.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


REACHABLE = re.compile(r"(?<!un)reachable")


def test_doctor_backend_reachable(stub_lib, listening_port):
    r = doctor("--backend", "127.0.0.1:%d" % listening_port, "--", "true",
               lib=stub_lib)
    assert r.returncode == 0, r.stdout
    assert "is reachable" in r.stdout
    assert "unreachable" not in r.stdout


def test_doctor_backend_unreachable(stub_lib, closed_port):
    r = doctor("--backend", "127.0.0.1:%d" % closed_port, "--", "true",
               lib=stub_lib)
    # An unreachable backend is a warning; the program is still
    # instrumentable.
    assert r.returncode == 0, r.stdout
    assert "unreachable" in r.stdout
    assert not REACHABLE.search(r.stdout)


def test_doctor_backend_from_environment(stub_lib, listening_port):
    env = clean_env(
        SW_AGENT_COLLECTOR_BACKEND_SERVICES="127.0.0.1:%d" % listening_port)
    r = doctor("--", "true", lib=stub_lib, env=env)
    assert "127.0.0.1:%d is reachable" % listening_port in r.stdout


def test_doctor_backend_malformed(stub_lib):
    r = doctor("--backend", "no-port-here", "--", "true", lib=stub_lib)
    assert r.returncode == 0
    assert "not HOST:PORT" in r.stdout


# ------------------------------------------------------------ entrypoint


def entry(args, **env):
    return run([ENTRYPOINT, *args], env=clean_env(**env))


def test_entrypoint_sets_preload(stub_lib):
    r = entry(["env"], SW_PRELOAD_LIB=str(stub_lib))
    assert r.returncode == 0, r.stderr
    assert env_of(r.stdout)["LD_PRELOAD"] == str(stub_lib)
    assert r.stderr == ""


@pytest.mark.parametrize("sep", [" ", ":"])
def test_entrypoint_prepends_and_keeps_entries(stubs, stub_lib, sep):
    a, b = stubs["liba.so"], stubs["libb.so"]
    r = entry(["env"], SW_PRELOAD_LIB=str(stub_lib),
              LD_PRELOAD="%s%s%s%s%s" % (a, sep, stub_lib, sep, b))
    assert r.returncode == 0, r.stderr
    assert env_of(r.stdout)["LD_PRELOAD"] == "%s:%s:%s" % (stub_lib, a, b)


def test_entrypoint_missing_library_still_runs_app(stubs, tmp_path):
    a = stubs["liba.so"]
    missing = tmp_path / "libswpreload.so"
    r = entry(["sh", "-c", 'echo "[$LD_PRELOAD]"; exit 3'],
              SW_PRELOAD_LIB=str(missing), LD_PRELOAD=str(a))
    assert r.returncode == 3
    assert r.stdout.strip() == "[%s]" % a
    assert "warning" in r.stderr and str(missing) in r.stderr


def test_entrypoint_disabled(stub_lib):
    r = entry(["sh", "-c", 'echo "[${LD_PRELOAD-unset}]"'],
              SW_PRELOAD_LIB=str(stub_lib), SW_AGENT_DISABLE="true")
    assert r.returncode == 0
    assert r.stdout.strip() == "[unset]"


def test_entrypoint_without_arguments_exits_2():
    r = entry([])
    assert r.returncode == 2
    assert "usage" in r.stderr


def test_entrypoint_passes_exit_status_and_execs(stub_lib):
    r = entry(["sh", "-c", "exit 7"], SW_PRELOAD_LIB=str(stub_lib))
    assert r.returncode == 7
    p = subprocess.Popen([str(ENTRYPOINT), "sh", "-c", "echo $$"],
                         env=clean_env(SW_PRELOAD_LIB=str(stub_lib)),
                         stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=TIMEOUT)
    assert int(out.strip()) == p.pid


def test_entrypoint_keeps_arguments_intact(stub_lib):
    args = ["a b", "", "*", "--", "$HOME"]
    r = entry(["printf", "<%s>"] + args, SW_PRELOAD_LIB=str(stub_lib))
    assert r.stdout == "".join("<%s>" % a for a in args)


# ------------------------------------------------------------ examples


def test_kubernetes_example():
    yaml = pytest.importorskip("yaml")
    docs = [d for d in yaml.safe_load_all(
        (SRC / "examples" / "kubernetes" / "deployment.yaml").read_text())
        if d]
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) >= {"Deployment", "Service"}
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod["volumes"]}
    init = pod["initContainers"][0]
    app = pod["containers"][0]
    init_mount = init["volumeMounts"][0]
    assert "emptyDir" in vols[init_mount["name"]]
    app_mount = [m for m in app["volumeMounts"]
                 if m["name"] == init_mount["name"]][0]
    assert app_mount["mountPath"] == "/swpreload"
    assert "libswpreload.so" in " ".join(init["command"])
    assert "libswreporter.so" in " ".join(init["command"])
    env = {e["name"]: e.get("value") for e in app["env"]}
    assert env["LD_PRELOAD"] == "/swpreload/libswpreload.so"
    assert env["SW_AGENT_NAME"]
    assert env["SW_AGENT_COLLECTOR_BACKEND_SERVICES"] == \
        "oap.skywalking:11800"
    sel = kinds["Service"]["spec"]["selector"]
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in sel.items())


def test_dockerfile_matches_install_layout():
    text = (SRC / "examples" / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:bookworm AS build$", text, re.M)
    assert "cmake --install" in text and "/opt/swpreload" in text
    assert ('ENTRYPOINT ["/opt/swpreload/share/swpreload/'
            'docker-entrypoint.sh"]') in text
    assert "SW_PRELOAD_LIB=/opt/swpreload/lib/swpreload/libswpreload.so" \
        in text
    assert "SW_AGENT_COLLECTOR_BACKEND_SERVICES=oap:11800" in text


# ------------------------------------------------------------ install


def cache_value(name, default):
    cache = BUILD / "CMakeCache.txt"
    if cache.exists():
        for line in cache.read_text().splitlines():
            if line.startswith(name + ":"):
                return line.split("=", 1)[1]
    return default


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if BUILD is None:
        pytest.skip("SW_TEST_BUILD_DIR not set")
    for name in ("libswpreload.so", "libswreporter.so"):
        if not (BUILD / name).exists():
            pytest.skip("%s not built in %s" % (name, BUILD))
    prefix = tmp_path_factory.mktemp("prefix")
    r = run(["cmake", "--install", BUILD, "--prefix", prefix])
    assert r.returncode == 0, r.stdout + r.stderr
    return prefix, cache_value("CMAKE_INSTALL_LIBDIR", "lib")


def test_install_layout(installed):
    prefix, libdir = installed
    for name in ("libswpreload.so", "libswreporter.so"):
        assert (prefix / libdir / "swpreload" / name).is_file(), name
    for exe in ("bin/sw-preload", "share/swpreload/docker-entrypoint.sh"):
        assert os.access(prefix / exe, os.X_OK), exe


def test_installed_launcher_finds_installed_library(installed):
    prefix, libdir = installed
    want = (prefix / libdir / "swpreload" / "libswpreload.so").resolve()
    # The real library is loaded into env here; SW_AGENT_DISABLE keeps it
    # idle, since only the lookup is under test.
    env = clean_env(SW_AGENT_DISABLE="true")
    r = run([prefix / "bin" / "sw-preload", "run", "--", "env"], env=env)
    assert r.returncode == 0, r.stderr
    assert env_of(r.stdout)["LD_PRELOAD"] == str(want)
    # SW_AGENT_DISABLE would keep the entrypoint from preloading at all;
    # an exclude pattern keeps the library idle in printenv instead.
    env = clean_env(SW_AGENT_EXCLUDE="printenv")
    r = run([prefix / "share" / "swpreload" / "docker-entrypoint.sh",
             "printenv", "LD_PRELOAD"], env=env)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).resolve() == want


def test_installed_launcher_version(installed):
    prefix, _ = installed
    m = re.search(r"project\(swpreload\s+VERSION\s+([0-9.]+)",
                  (SRC / "CMakeLists.txt").read_text())
    r = run([prefix / "bin" / "sw-preload", "--version"])
    assert r.stdout.strip() == "sw-preload " + m.group(1)


def test_debian_package(installed, tmp_path):
    if not (shutil.which("cpack") and shutil.which("dpkg-deb")):
        pytest.skip("cpack or dpkg-deb missing")
    r = run(["cpack", "-G", "DEB", "--config", BUILD / "CPackConfig.cmake",
             "-B", tmp_path])
    assert r.returncode == 0, r.stdout + r.stderr
    debs = list(tmp_path.glob("swpreload_*.deb"))
    assert len(debs) == 1, r.stdout
    info = run(["dpkg-deb", "-f", debs[0], "Package", "Maintainer",
                "Depends"]).stdout
    assert "Package: swpreload" in info
    assert "Maintainer: swpreload developers" in info
    assert "libc6" in info and "libcurl4" in info
    files = run(["dpkg-deb", "-c", debs[0]]).stdout
    for path in ("./usr/bin/sw-preload", "/swpreload/libswpreload.so",
                 "/swpreload/libswreporter.so",
                 "./usr/share/swpreload/docker-entrypoint.sh"):
        assert path in files, path
    # The packaged launcher finds the packaged library.
    root = tmp_path / "root"
    assert run(["dpkg-deb", "-x", debs[0], root]).returncode == 0
    libs = list(root.glob("usr/lib/**/swpreload/libswpreload.so"))
    assert len(libs) == 1
    r = run([root / "usr" / "bin" / "sw-preload", "run", "--", "true"],
            env=clean_env(SW_AGENT_DISABLE="true"))
    assert r.returncode == 0, r.stderr
    r = run([root / "usr" / "bin" / "sw-preload", "doctor", "--", "true"])
    assert "agent library: %s" % libs[0].resolve() in r.stdout
