#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: installs dependencies,
# builds, runs the sanitizer stages (scripts/sanitizers.sh: unit tests
# under ASan+UBSan, the ASan-built agent inside python3, the ring under
# TSan), then every unit, integration, fuzz and soak test under ctest.
# Exit status: ctest's, or 1 when a sanitizer stage failed.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
# With ctest arguments (a subset) the sanitizer stages are skipped unless
# SW_SANITIZERS=1; SW_SANITIZERS=0 always skips them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SW_BUILD_DIR:-$root/build}
sanitizers=${SW_SANITIZERS:-auto}
if [ "$sanitizers" = auto ]; then
  if [ $# -eq 0 ]; then sanitizers=1; else sanitizers=0; fi
fi

t0=$(date +%s)
"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSW_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
echo "test: setup and build took $(($(date +%s) - t0)) s"

san_rc=0
if [ "$sanitizers" = 1 ]; then
  t0=$(date +%s)
  SW_BUILD_DIR=$build "$root/scripts/sanitizers.sh" || san_rc=$?
  echo "test: sanitizer stages took $(($(date +%s) - t0)) s"
  if [ "$san_rc" -ne 0 ]; then
    echo "test: a sanitizer stage FAILED (see above): this command fails" \
      "whatever ctest reports below"
  fi
fi

cd "$build"
rc=0
ctest --output-on-failure --timeout 900 "$@" || rc=$?
if [ "$rc" -eq 0 ] && [ "$san_rc" -ne 0 ]; then
  rc=1
fi
exit "$rc"
