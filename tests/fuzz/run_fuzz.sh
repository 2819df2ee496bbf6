#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time on a fresh copy of its seed
# corpus (the seeds in the source tree are never written to). Used by the
# fuzz.<name> ctest tests (cmake/fuzz.cmake).
#   run_fuzz.sh BINARY SEED_DIR WORK_DIR SECONDS [libFuzzer args...]
# Exit status: 0 when the run ended without a crash, leak, timeout or
# out-of-memory; libFuzzer's status otherwise, after printing how to
# reproduce with the saved input.
set -uo pipefail
bin=$1 seeds=$2 work=$3 secs=$4
shift 4

rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$seeds/." "$work/corpus/"
start=$(date +%s)
"$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" \
  "$work/corpus" 2>&1 | grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse)'
rc=${PIPESTATUS[0]}
echo "fuzz: $(basename "$bin"): exit $rc after $(($(date +%s) - start)) s;" \
  "corpus $(ls "$work/corpus" | wc -l) inputs"
if [ "$rc" -ne 0 ]; then
  for f in "$work"/artifacts/*; do
    [ -e "$f" ] || continue
    echo "fuzz: reproduce with: $bin $f"
    echo "fuzz: keep it as a regression seed: cp $f $seeds/"
  done
fi
exit "$rc"
