#!/bin/bash
# fuzz.sh - the libFuzzer harnesses: the CSV parser (both encodings), a batch's protobuf decode
# and validation, the rules-file parser, the province's pull request
#
#   tests/fuzz.sh [SECONDS]     each harness runs SECONDS (default 60); tests/run.sh runs 10
#
# Builds with clang into build-fuzz/ (everything instrumented: ASan, UBSan, coverage), seeds each
# corpus from the sample county and the shipped rules, keeps the corpora in build-fuzz/corpus/,
# and prints executions per harness. A crash stops the run with the reproducer's path and a
# non-zero status.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=$root/build-fuzz
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed" >&2; exit 1; }
CC=clang cmake -S "$root" -B "$build" -DEDU_FUZZ=ON -DEDU_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$build.cmake.log" 2>&1 || { cat "$build.cmake.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target fuzz_csv fuzz_batch fuzz_rules fuzz_query 2>&1 |
  grep -Ev '^\[ *[0-9]+%\]' || true

corpus=$build/corpus
mkdir -p "$corpus/csv" "$corpus/batch" "$corpus/rules" "$corpus/query" "$build/crashes"
cp "$root"/deploy/sample/county-430405/*.csv "$corpus/csv/"
iconv -f UTF-8 -t GB18030 "$root/deploy/sample/county-430405/schools.csv" >"$corpus/csv/gb18030.csv"
cp "$root/deploy/rules.ini" "$corpus/rules/"
printf '430405\0000\0005000' >"$corpus/query/seed"
status=0
for target in csv batch rules query; do
  log=$build/fuzz_$target.log
  if EDU_FUZZ_SEED="$corpus/batch" "$build/bin/fuzz_$target" "$corpus/$target" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 >"$log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{ print $2 }')
    echo "fuzz_$target: ${execs:-?} executions in ${seconds}s, no crash ($(ls "$corpus/$target" | wc -l) inputs in the corpus)"
  else
    status=1
    echo "fuzz_$target: CRASH — reproducer in $build/crashes/ (log: $log)"
    grep -m5 -E 'ERROR|SUMMARY' "$log" || true
  fi
done
exit $status
