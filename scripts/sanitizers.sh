#!/usr/bin/env bash
# Sanitizer stages of the test suite (run by scripts/test.sh before the
# main ctest, or on their own):
#   1. asan: an AddressSanitizer + UndefinedBehaviorSanitizer tree (the
#      default compiler) running every unit test;
#   2. asan-preload: the ASan-built libswpreload.so preloaded into real,
#      uninstrumented programs reporting to the test collector (a python3
#      server and urllib client, 200 requests; nginx, 500 requests):
#      test_hardening.py's test_asan_preload_* tests;
#   3. tsan: a ThreadSanitizer tree (clang) running unit.test_ring, the
#      lock-free ring hammered by several producers. Criterion cannot start
#      under TSan, so that test brings its own runner (see its header); the
#      other unit tests are single-threaded or covered by stage 1.
#
#   scripts/sanitizers.sh [asan] [asan-preload] [tsan]   (default: all)
# Functions here run under "stage || rc=$?", where set -e is off: every
# step checks its own status.
# Build trees: $SW_BUILD_DIR-asan and $SW_BUILD_DIR-tsan (SW_BUILD_DIR
# defaults to build/). Prints the time each stage took; exits non-zero
# when any stage fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SW_BUILD_DIR:-$root/build}
asan_dir=$build-asan
tsan_dir=$build-tsan
jobs=$(nproc)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asan asan-preload tsan)

# A sanitizer finding must fail the test that hit it. Leak checking is on
# for the unit tests (they are ASan-built executables).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

configure() {
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSW_WERROR=ON -DSW_INTEGRATION=OFF -DSW_FUZZ=OFF "$@" >/dev/null
}

stage_asan() {
  configure "$asan_dir" -DSW_ASAN=ON -DSW_UBSAN=ON || return
  cmake --build "$asan_dir" -j"$jobs" >/dev/null || return
  (cd "$asan_dir" && ctest --output-on-failure --timeout 600 -L unit)
}

stage_asan_preload() {
  # Up to date (a no-op right after the asan stage).
  configure "$asan_dir" -DSW_ASAN=ON -DSW_UBSAN=ON || return
  cmake --build "$asan_dir" -j"$jobs" >/dev/null || return
  # The host program is not ASan-built: the runtime must come first in
  # LD_PRELOAD, and leaks are python's business, not ours.
  local rt
  rt=$(gcc -print-file-name=libasan.so)
  SW_TEST_ASAN_PRELOAD="$asan_dir/libswpreload.so" SW_TEST_ASAN_RUNTIME="$rt" \
    SW_TEST_SOURCE_DIR="$root" SW_TEST_BUILD_DIR="$asan_dir" \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    "$root/tests/integration/test_hardening.py" -k asan_preload
}

stage_tsan() {
  local cc
  cc=$(command -v clang || true)
  [ -n "$cc" ] || { echo "sanitizers: tsan needs clang" >&2; return 1; }
  configure "$tsan_dir" -DCMAKE_C_COMPILER="$cc" -DSW_TSAN=ON || return
  cmake --build "$tsan_dir" --target test_ring -j"$jobs" >/dev/null || return
  (cd "$tsan_dir" && ctest --output-on-failure --timeout 600 -R '^unit\.test_ring$')
}

failed=()
for s in "${stages[@]}"; do
  start=$(date +%s)
  echo "sanitizers: stage $s" >&2
  rc=0
  case "$s" in
    asan) stage_asan || rc=$? ;;
    asan-preload) stage_asan_preload || rc=$? ;;
    tsan) stage_tsan || rc=$? ;;
    *) echo "sanitizers: unknown stage $s" >&2; rc=2 ;;
  esac
  echo "sanitizers: stage $s: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - start)) s" >&2
  [ $rc -eq 0 ] || failed+=("$s")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitizers: FAILED: ${failed[*]}" >&2
  exit 1
fi
