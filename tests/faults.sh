#!/bin/bash
# faults.sh - the long fault suite: 1 008 000 records from 20 collectors while the aggregator is
# SIGKILLed 20 times, PostgreSQL crashes twice, collectors are SIGKILLed, the network is cut
# for 60 s and a collector's spool disk fills up; then every record must be stored exactly once
# and every alert delivered at least once. (tests/run.sh runs the short version, it_faults.)
#
#   tests/faults.sh [BIN_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/bin}
export EDU_FAULT_SCHOOLS=20 EDU_FAULT_RECORDS=50400 EDU_FAULT_ROUNDS=20 # 21 files of 2 400
export EDU_FAULT_PG_ROUNDS="6 14" EDU_FAULT_CUT_S=60 EDU_SOURCE_DIR=$root
exec bash "$root/tests/integration/faults.sh" "$bin" "$root/deploy/sample/county-430405"
