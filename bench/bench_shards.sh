#!/usr/bin/env bash
# Sharded wave ranking and slot pricing (apps.mlops.shards) at 10,000,000 subscribers on a
# throwaway PostgreSQL and Redis: 1, 2 and 4 processes against one process without shards.
#   bench/bench_shards.sh     (BENCH_SUBSCRIBERS, BENCH_WAVE, BENCH_RUNS, BENCH_PROCESSES,
#                              BENCH_PRICE_CONTENTS, BENCH_PRICE_PROCESSES override)
set -euo pipefail
cd "$(dirname "$0")/.."
source bin/lib.sh
ensure_venv
# PostgreSQL with a production's buffer cache (a quarter of this machine's memory is the usual
# advice; 4 GB holds the 10,000,000 subscribers' table and its indexes), not the 128 MB default
export BENCH_PG_OPTIONS=${BENCH_PG_OPTIONS:--c shared_buffers=4GB}
bench_services
export BENCH_SUBSCRIBERS=${BENCH_SUBSCRIBERS:-10000000}
export PUSHADMIN_VAR_DIR="$BENCH_DIR/var"
"$PY" bench/bench_shards.py
