#!/usr/bin/env bash
# MF training at newsroom scale on a throwaway PostgreSQL: the product's train_mf against raw implicit.
#   bench/bench_training.sh     (BENCH_EVENTS=1000000,20000000 BENCH_RUNS=3 PUSHADMIN_ML_THREADS override)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bin/lib.sh
ensure_venv
bench_services
export BENCH_DATA="$BENCH_DIR" PUSHADMIN_ARTIFACTS_DIR="$BENCH_DIR/artifacts"
"$PY" bench/bench_training.py
