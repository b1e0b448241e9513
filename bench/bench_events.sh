#!/usr/bin/env bash
# POST /api/v1/events/ behind gunicorn (WORKERS, default 2) on a throwaway PostgreSQL, driven from another
# process on loopback: batches of 1,000 events with 5% repeated event_ids. Prints the throughput,
# p50/p99 latency, and checks that every acknowledged event is stored exactly once. PREFILL: that
# many of the client's events stored beforehand over the last 360 days (every month of the
# retention holds some, as in a table that has been running for a year).
#   bench/bench_events.sh [REQUESTS=300] [CONNECTIONS=4] [RUNS=3] [PREFILL=0] [WORKERS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source bin/lib.sh
REQUESTS=${1:-300}; CONNS=${2:-4}; RUNS=${3:-3}; PREFILL=${4:-0}; WORKERS=${5:-2}
ensure_venv
bench_services
DIR=$BENCH_DIR
KEY=$("$PY" bench/events_setup.py setup)
[ "$PREFILL" -gt 0 ] && echo "prefilled: $("$PY" bench/events_setup.py prefill "$PREFILL") events over 360 days"
"$VENV/bin/gunicorn" pushadmin.wsgi -w "$WORKERS" --bind "127.0.0.1:$(free_port)" >"$DIR/gunicorn.log" 2>&1 &
STARTED_PIDS+=($!)
sleep 3
WEB=$(grep -o 'Listening at: http://127.0.0.1:[0-9]*' "$DIR/gunicorn.log" | tail -1 | sed 's/.*://')
for run in $(seq 1 "$RUNS"); do
  "$PY" bench/events_setup.py clear
  base=$("$PY" bench/events_setup.py baseline 50)
  out=$("$PY" bench/events_load.py 127.0.0.1 "$WEB" "$KEY" "$REQUESTS" 1000 0.05 "$CONNS")
  read -r stored distinct < <("$PY" bench/events_setup.py count)
  echo "run $run: $out direct_insert_per_s=$base stored=$stored distinct=$distinct"
done
