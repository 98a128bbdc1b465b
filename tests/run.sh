#!/bin/bash
# run.sh - installs what eduwatch needs, builds it twice (normal, and ASan + UBSan) with warnings
# as errors, checks that Release builds with gcc and with clang compile, starts a throwaway
# PostgreSQL and runs every test through ctest: all of them in the normal build, the unit tests
# and those labelled `sanitize` in the ASan + UBSan build (EDU_ASAN_ALL=1: all of them there too)
#
#   tests/run.sh [ctest arguments...]     e.g. tests/run.sh -L unit, tests/run.sh -R it_fixture
#
# Exit status 0 only if every test of both builds passed. Builds go to build/ (the one
# deploy/quickstart.sh uses too; it turns EDU_WERROR off again), build-asan/ and
# build-release-gcc/, build-release-clang/; the cluster lives in a temporary directory
# and is removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/lib/deps.sh"
. "$root/tests/lib/pg.sh"
. "$root/tests/lib/check.sh"

echo "== dependencies"
edu_install_deps $EDU_TEST_PACKAGES
# it_metrics runs `promtool check metrics` on the programs' /metrics when it has it
EDU_PROMTOOL=${EDU_PROMTOOL:-$(edu_promtool "$root/build-tools/prometheus")}
export EDU_PROMTOOL
echo "promtool: ${EDU_PROMTOOL:-not to be had (tests/lib/promcheck.py checks the metrics alone)}"

jobs=$(nproc)
build() { # build DIR [cmake options...]
  local dir=$1
  shift
  echo "== build $dir $*"
  cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$root/$dir.cmake.log" 2>&1 ||
    { cat "$root/$dir.cmake.log"; return 1; }
  compile "$dir"
}
compile() { # compile DIR [--target T...]: the compiler's output without the progress lines
  local dir=$1 status
  shift
  cmake --build "$root/$dir" -j "$jobs" "$@" >"$root/$dir/build.log" 2>&1 && status=0 || status=$?
  grep -Ev '^\[ *[0-9]+%\]|^-- ' "$root/$dir/build.log" || true
  [ $status = 0 ] || echo "build of $dir failed"
  return $status
}
build build -DEDU_TESTS=ON -DEDU_WERROR=ON
build build-asan -DEDU_SANITIZE=ON -DEDU_TESTS=ON -DEDU_WERROR=ON

# What a distribution builds: Release (-O3 finds warnings -O2 does not), with gcc and with clang,
# warnings as errors. Only the programs, no tests: this is a compile check.
release() { # release CC
  local dir=build-release-$1
  echo "== build $dir (Release, CC=$1, the programs only)"
  CC=$1 cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=Release -DEDU_TESTS=OFF \
    -DEDU_WERROR=ON >"$root/$dir.cmake.log" 2>&1 || { cat "$root/$dir.cmake.log"; return 1; }
  compile "$dir" --target edu-collector edu-aggregator edu-province edu-alerts edu-keygen
}
release gcc
release clang

echo "== PostgreSQL"
pgdir=$(mktemp -d /tmp/edu-tests-pg.XXXXXX)
chmod 755 "$pgdir"
trap 'pg_stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
pg_start "$pgdir" "$(check_free_port)"
echo "cluster at $PGHOST port $PGPORT"

# Sanitizer reports go to files the integration tests inspect; leaks are errors too.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The tests mostly wait (for processes, sockets, timers, fsync): several per core keep the
# machine busy (a whole run took 25 min at one per core with the cores half idle); fewer under
# the sanitizers, which cost CPU.
# Every test runs in the normal build; under the sanitizers the unit tests and the integration
# tests labelled `sanitize` (those that drive outside input through C code no other test
# reaches; tests/CMakeLists.txt), or all with EDU_ASAN_ALL=1, or the selection given.
status=0
for dir in build build-asan; do
  test_jobs=${EDU_TEST_JOBS:-$([ $dir = build ] && echo $((3 * jobs)) || echo $((2 * jobs)))}
  select=("$@")
  [ $dir = build-asan ] && [ $# -eq 0 ] && [ "${EDU_ASAN_ALL:-0}" != 1 ] && select=(-L 'unit|sanitize')
  echo "== ctest $dir (-j $test_jobs ${select[*]})"
  start=$(date +%s)
  (cd "$root/$dir" && ctest --output-on-failure -j "$test_jobs" "${select[@]}") || status=1
  echo "   $dir: $(($(date +%s) - start)) s"
done
if [ $# -eq 0 ]; then # a selection of tests (ctest arguments) skips the fuzzers
  echo "== fuzz (10 s per harness; tests/fuzz.sh SECONDS runs longer)"
  "$root/tests/fuzz.sh" 10 || status=1
fi
[ $status = 0 ] && echo "== all tests passed" || echo "== some tests FAILED"
exit $status
