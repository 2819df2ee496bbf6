#!/usr/bin/env bash
# Installs what building and testing swpreload needs, from Debian's
# packages. Installs only what is missing; needs root (or sudo) for that.
#   scripts/setup.sh            build + test dependencies
#   scripts/setup.sh --bench    also the benchmark tools (hyperfine, valgrind)
set -euo pipefail

pkgs=(build-essential cmake pkg-config libcurl4-openssl-dev libprotobuf-c-dev
  protobuf-c-compiler libcriterion-dev librdkafka-dev
  python3 python3-grpcio python3-grpc-tools python3-protobuf python3-pytest
  python3-yaml nginx-light curl gunicorn clang libclang-rt-14-dev binutils
  procps iproute2 wrk musl-tools)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(hyperfine valgrind)
fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
