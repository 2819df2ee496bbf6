#!/usr/bin/env bash
# Every benchmark, bare vs preloaded, then a side-by-side summary and the
# overhead targets (see BENCHMARKS.md).
#   bench/run.sh [--quick]
# Each benchmark also runs alone: bench/servers.py, startup.py, hooks.py,
# reporter.py, memory.py (--help). The build goes to $SW_BENCH_BUILD
# (default build-bench/ in the source tree). Needs wrk, hyperfine and
# valgrind (scripts/setup.sh --bench), nginx and node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=/usr/bin/python3
[ -x "$py" ] || py=python3
quick=""
case "${1:-}" in
  --quick) quick=--quick ;;
  "") ;;
  *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

out=$(mktemp -d "${TMPDIR:-/tmp}/swbench.XXXXXX")
child=""
cleanup() {
  # Each benchmark kills what it started; this stops the one running.
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export SW_BENCH_BUILD=${SW_BENCH_BUILD:-$root/build-bench}
# Configured and built once here (bench/benchlib.py build()), not again by
# each benchmark.
(unset SW_BENCH_BUILT; cd "$here" && "$py" -c 'import benchlib; benchlib.build()')
export SW_BENCH_BUILT=$SW_BENCH_BUILD

# run TITLE SCRIPT [args...]: SCRIPT.py with --json TITLE.json.
run() {
  local title=$1 script=$2
  shift 2
  echo "== $title"
  "$py" "$here/$script.py" $quick --json "$out/$title.json" "$@" &
  child=$!
  wait "$child"
  child=""
  echo
}

start=$(date +%s)
run startup startup
run hooks hooks
run reporter reporter
run servers servers
if [ -z "$quick" ]; then
  # The same for nginx with the Python collector as the backend (it tops
  # out near 20k segments/s and shares the CPUs; see BENCHMARKS.md).
  run servers_python servers --servers nginx --collector python
fi
run memory memory
echo "== summary ($(( $(date +%s) - start )) s${quick:+, quick})"
"$py" -c "import sys; sys.path.insert(0, '$here'); import benchlib; print(benchlib.machine())"
"$py" "$here/summary.py" "$out"
