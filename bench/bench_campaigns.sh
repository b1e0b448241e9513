#!/usr/bin/env bash
# Wave planning and dispatch with 1,000,000 subscribers on a throwaway PostgreSQL.
#   bench/bench_campaigns.sh            (BENCH_SUBSCRIBERS, BENCH_WAVE, BENCH_RUNS override)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bin/lib.sh
ensure_venv
bench_services
export PUSHADMIN_PUSH_RATE=1000000
"$PY" bench/campaign_world.py
