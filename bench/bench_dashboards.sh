#!/usr/bin/env bash
# The operators' pages with 1,000 campaigns and 1,000,000 sends on a throwaway PostgreSQL.
#   bench/bench_dashboards.sh [--repeats 15] [--sends 1000000] [--campaigns 1000] ...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bin/lib.sh
ensure_venv
bench_services
"$PY" bench/bench_dashboards.py "$@"
