#!/usr/bin/env bash
# The whole test suite, from a fresh checkout: installs dependencies,
# builds, and runs every unit, integration, sanitizer and fuzz test under
# ctest. Exit status is ctest's.
#   scripts/test.sh [ctest args...]     e.g. scripts/test.sh -L unit
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SW_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSW_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
exec ctest --output-on-failure --timeout 900 "$@"
