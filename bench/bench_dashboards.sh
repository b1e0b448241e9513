#!/usr/bin/env bash
# The operators' pages with 1,000 campaigns and 1,000,000 sends on a throwaway PostgreSQL.
#   bench/bench_dashboards.sh [--repeats 15] [--sends 1000000] [--campaigns 1000] ...
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bin/lib.sh
ensure_venv
DIR=$(mktemp -d /tmp/pushadmin-bench.XXXXXX); chmod 755 "$DIR"
trap 'stop_started; rm -rf "$DIR"' EXIT INT TERM
rp=$(free_port); start_redis "$rp" "$DIR/redis"
pp=$(free_port); start_postgres "$pp" "$DIR/pg"
export REDIS_URL="redis://127.0.0.1:$rp/0" DJANGO_LOG_LEVEL=WARNING
export DATABASE_URL="postgres://postgres@127.0.0.1:$pp/postgres" DATABASE_CONN_MAX_AGE=600
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(free -g | awk '/Mem/{print $2}') GiB; $(postgres --version 2>/dev/null || true); $("$PY" --version)"
"$PY" bench/bench_dashboards.py "$@"
