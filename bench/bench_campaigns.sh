#!/usr/bin/env bash
# Wave planning and dispatch with 1,000,000 subscribers on a throwaway PostgreSQL.
#   bench/bench_campaigns.sh            (BENCH_SUBSCRIBERS, BENCH_WAVE, BENCH_RUNS override)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bin/lib.sh
ensure_venv
DIR=$(mktemp -d /tmp/pushadmin-bench.XXXXXX); chmod 755 "$DIR"
trap 'stop_started; rm -rf "$DIR"' EXIT INT TERM
rp=$(free_port); start_redis "$rp" "$DIR/redis"
pp=$(free_port); start_postgres "$pp" "$DIR/pg"
export REDIS_URL="redis://127.0.0.1:$rp/0" DJANGO_DEBUG=false DJANGO_LOG_LEVEL=WARNING
export DATABASE_URL="postgres://postgres@127.0.0.1:$pp/postgres" PUSHADMIN_PUSH_RATE=1000000
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$PY" manage.py migrate --noinput >/dev/null
echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(free -g | awk '/Mem/{print $2}') GiB; $(postgres --version 2>/dev/null || /usr/lib/postgresql/15/bin/postgres --version)"
"$PY" bench/campaign_world.py
