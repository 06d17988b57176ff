#!/usr/bin/env bash
# Intake throughput against the machine's own ceiling, in one run.
#
# 1. Builds the release binaries (skip with BENCH_SKIP_BUILD=1).
# 2. The ceiling: pgbench single-row inserts (two short text columns into a
#    table with a bigserial key) on the same Postgres, in a scratch database.
# 3. The production shape: intake, case, escalation and notification as
#    separate processes on a fresh database, a Redis key prefix of their own
#    and emails written as .eml files; their idle CPU over BENCH_IDLE_SECONDS;
#    `complaints bench` closed loop at each of BENCH_CONCURRENCY, then open
#    loop at half the target (0.05 of the pgbench rate) counting the
#    acknowledgement emails (end to end); Postgres work per complaint from
#    pg_stat_database.
# 4. The embedded suite (`complaints dev`, SQLite): its rate and idle CPU.
#
# BENCH_BIN_DIR runs binaries from elsewhere (with BENCH_SKIP_BUILD=1), e.g.
# an earlier build kept for a before-and-after comparison.
#
# Needs DATABASE_URL (any database on the Postgres to use: only its server
# is taken from it), REDIS_URL, pgbench, psql, redis-cli. Everything it
# creates (databases, Redis keys, processes, files) is removed at the end.
#
#   scripts/bench-intake.sh
#   BENCH_DURATION=10 BENCH_CONCURRENCY="8 32" scripts/bench-intake.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${BENCH_DURATION:-20}"
CONCURRENCY="${BENCH_CONCURRENCY:-1 8 16 32 64}"
IDLE_SECONDS="${BENCH_IDLE_SECONDS:-30}"
PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-10}"
DRAIN="${BENCH_DRAIN_SECONDS:-60}"
DATABASE_URL="${DATABASE_URL:?set DATABASE_URL to a database on the Postgres to use}"
REDIS_URL="${REDIS_URL:?set REDIS_URL}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${BENCH_BIN_DIR:-$TARGET_DIR/release}"

PGBENCH="$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -n1)"
[[ -x "$PGBENCH" ]] || { echo "pgbench not found" >&2; exit 1; }

# The server part of DATABASE_URL, to name other databases on it.
SERVER_URL="${DATABASE_URL%/*}"
RUN="$$"
SCRATCH_DB="bench_pgbench_$RUN"
BENCH_DB="bench_intake_$RUN"
PREFIX="bench-intake-$RUN:{deadlines}:"
WORK="$(mktemp -d /tmp/bench-intake.XXXXXX)"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  redis-cli -u "$REDIS_URL" --scan --pattern "bench-intake-$RUN:*" 2>/dev/null |
    xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for_port() { # port name pid
  local i
  for i in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "$2 exited; its log:" >&2; tail -n 30 "$WORK/$2.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$2 did not start listening on $1" >&2
  exit 1
}

# CPU time (user + system, in clock ticks) of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Idle CPU of each named pid over IDLE_SECONDS, as a percentage of one core.
idle_cpu() { # name=pid ...
  local pair before=() after=() i=0 hz
  hz="$(getconf CLK_TCK)"
  for pair in "$@"; do before+=("$(cpu_ticks "${pair#*=}")"); done
  sleep "$IDLE_SECONDS"
  for pair in "$@"; do after+=("$(cpu_ticks "${pair#*=}")"); done
  for pair in "$@"; do
    awk -v n="${pair%%=*}" -v b="${before[$i]}" -v a="${after[$i]}" -v hz="$hz" -v s="$IDLE_SECONDS" \
      'BEGIN { printf "IDLE %s cpu_percent=%.2f\n", n, (a - b) * 100 / (hz * s) }'
    i=$((i + 1))
  done
}

result() { # label field < bench output: the field of the RESULT line
  grep "^RESULT label=$1 " | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

pg_counters() {
  psql -At "$SERVER_URL/$BENCH_DB" -c "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned + tup_fetched FROM pg_stat_database WHERE datname = current_database()"
}

echo "== $(date -u +%FT%TZ) on $(nproc) cores; load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   other processes using CPU now:"
ps -eo pcpu,comm --sort=-pcpu | awk 'NR > 1 && $1 > 5 { printf "     %s%% %s\n", $1, $2 }' | head -n 8

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building (release)"
  (cd "$ROOT" && cargo build --release --bins -p complaints -p complaints-case \
    -p complaints-intake -p complaints-escalation -p complaints-notification)
fi

echo "== ceiling: pgbench single-row inserts"
psql -q "$SERVER_URL/postgres" -c "CREATE DATABASE $SCRATCH_DB" >/dev/null
psql -q "$SERVER_URL/$SCRATCH_DB" -c "CREATE TABLE bench_rows (id bigserial PRIMARY KEY, a text, b text)" >/dev/null
echo "INSERT INTO bench_rows (a, b) VALUES ('complaint', 'received');" >"$WORK/insert.sql"
"$PGBENCH" -n -M prepared -c 8 -j 2 -T "$PGBENCH_SECONDS" -f "$WORK/insert.sql" "$SERVER_URL/$SCRATCH_DB" \
  >"$WORK/pgbench.out" 2>&1
PGBENCH_TPS="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/pgbench.out" | head -n1)"
echo "pgbench -n -M prepared -c 8 -j 2 -T $PGBENCH_SECONDS: $PGBENCH_TPS inserts/s"
psql -q "$SERVER_URL/postgres" -c "DROP DATABASE $SCRATCH_DB" >/dev/null

echo "== production shape: four processes on a fresh database"
psql -q "$SERVER_URL/postgres" -c "CREATE DATABASE $BENCH_DB" >/dev/null
CASE_PORT="$(free_port)"
ESCALATION_PORT="$(free_port)"
NOTIFICATION_PORT="$(free_port)"
INTAKE_PORT="$(free_port)"
export COMPLAINTS_ALLOW_DEV_KEY=true
export COMPLAINTS_CASE_URL="http://127.0.0.1:$CASE_PORT"
export COMPLAINTS_ESCALATION_URL="http://127.0.0.1:$ESCALATION_PORT"
export COMPLAINTS_NOTIFICATION_URL="http://127.0.0.1:$NOTIFICATION_PORT"
export COMPLAINTS_REDIS_PREFIX="$PREFIX"
export COMPLAINTS_DATA_DIR="$WORK/data"
export COMPLAINTS_OUTBOX_DIR="$WORK/outbox"
export RUST_LOG="${RUST_LOG:-info}"
unset COMPLAINTS_SMTP_URL
mkdir -p "$WORK/data"

start() { # name port [env...]
  local name="$1" port="$2"
  shift 2
  env DATABASE_URL="$SERVER_URL/$BENCH_DB" COMPLAINTS_LISTEN="127.0.0.1:$port" "$@" \
    "$BIN/$name" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  eval "PID_${name}=$!"
  wait_for_port "$port" "$name" "$!"
}
# The case service first: it brings the schema up before the others start.
start case "$CASE_PORT"
start escalation "$ESCALATION_PORT" REDIS_URL="$REDIS_URL"
start notification "$NOTIFICATION_PORT"
start intake "$INTAKE_PORT"
echo "started: intake :$INTAKE_PORT, case :$CASE_PORT, escalation :$ESCALATION_PORT, notification :$NOTIFICATION_PORT"

echo "== idle CPU over ${IDLE_SECONDS} s (production shape)"
# shellcheck disable=SC2154 # set by start()
idle_cpu intake="$PID_intake" case="$PID_case" escalation="$PID_escalation" notification="$PID_notification" |
  tee "$WORK/idle.out"

bench() { # label args...
  local label="$1"
  shift
  "$BIN/complaints" bench --label "$label" --as adviser "$@" | tee -a "$WORK/bench.out"
}

SERVER="http://127.0.0.1:$INTAKE_PORT"
echo "== SubmitComplaint, closed loop, ${DURATION} s each"
BEST=0
BEST_AT=""
for c in $CONCURRENCY; do
  before="$(pg_counters)"
  bench "closed-$c" --server "$SERVER" --concurrency "$c" --duration "$DURATION" --sent-dir "$WORK/outbox/email" \
    --drain-timeout "$DRAIN"
  after="$(pg_counters)"
  accepted="$(result "closed-$c" accepted <"$WORK/bench.out")"
  rate="$(result "closed-$c" accepted_per_s <"$WORK/bench.out")"
  if awk -v r="$rate" -v b="$BEST" 'BEGIN { exit !(r > b) }'; then BEST="$rate"; BEST_AT="$c"; fi
  # Postgres work per accepted complaint, across the four services, counting
  # the warm-up and everything the relays did until the emails were out.
  warm=200
  awk -v b="$before" -v a="$after" -v n="$((accepted + warm))" -v c="$c" 'BEGIN {
    split(b, x, "|"); split(a, y, "|");
    printf "PG closed-%s per complaint: commits %.1f, inserts %.1f, updates %.1f, deletes %.1f, rows read %.0f\n",
      c, (y[1]-x[1])/n, (y[2]-x[2])/n, (y[3]-x[3])/n, (y[4]-x[4])/n, (y[5]-x[5])/n }' | tee -a "$WORK/pg.out"
done

HALF_TARGET="$(awk -v t="$PGBENCH_TPS" 'BEGIN { printf "%.0f", t * 0.05 }')"
echo "== SubmitComplaint, open loop at half the target rate (0.05 x pgbench = $HALF_TARGET/s), end to end"
bench "open-half-target" --server "$SERVER" --rate "$HALF_TARGET" --concurrency 2000 --duration "$DURATION" \
  --sent-dir "$WORK/outbox/email" --drain-timeout "$DRAIN"
HALF_BEST="$(awk -v b="$BEST" 'BEGIN { printf "%.0f", b * 0.5 }')"
echo "== SubmitComplaint, open loop at half the measured best ($HALF_BEST/s), end to end"
bench "open-half-best" --server "$SERVER" --rate "$HALF_BEST" --concurrency 2000 --duration "$DURATION" \
  --sent-dir "$WORK/outbox/email" --drain-timeout "$DRAIN"

echo "== tables read whole most (rows read by sequential scans, all services)"
psql -At -F ' ' "$SERVER_URL/$BENCH_DB" -c "SELECT relname, seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 6" |
  awk '{ printf "SEQ %s seq_scans=%s rows_read=%s index_scans=%s\n", $1, $2, $3, $4 }' | tee "$WORK/seq.out"

# Stop the four processes; one still running 30 s after SIGTERM is reported
# and killed.
stop() { # name pid
  local i
  kill "$2" 2>/dev/null || return 0
  for i in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || { wait "$2" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "STOP $1 did not stop within 30 s of SIGTERM; killed" | tee -a "$WORK/idle.out"
  kill -KILL "$2" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
}
for name in intake case escalation notification; do
  pid_var="PID_$name"
  stop "$name" "${!pid_var}"
done
PIDS=()

echo "== embedded suite (complaints dev, SQLite)"
DEV_PORT="$(free_port)"
env -u REDIS_URL COMPLAINTS_OUTBOX_DIR="$WORK/dev/outbox" \
  "$BIN/complaints" dev --listen "127.0.0.1:$DEV_PORT" --data-dir "$WORK/dev" >"$WORK/dev.log" 2>&1 &
PIDS+=("$!")
DEV_PID="$!"
wait_for_port "$DEV_PORT" dev "$DEV_PID"
idle_cpu embedded="$DEV_PID" | tee -a "$WORK/idle.out"
for c in 16; do
  bench "embedded-$c" --server "http://127.0.0.1:$DEV_PORT" --concurrency "$c" --duration "$DURATION" \
    --sent-dir "$WORK/dev/outbox/email" --drain-timeout "$DRAIN"
done

echo
echo "== summary (pgbench ceiling $PGBENCH_TPS inserts/s; same run)"
printf '%-22s %12s %10s %9s %9s %9s %s\n' run accepted/s ratio p50_ms p99_ms max_ms errors
grep '^RESULT' "$WORK/bench.out" | grep -v -- '-e2e ' | while read -r line; do
  label="$(echo "$line" | tr ' ' '\n' | sed -n 's/^label=//p')"
  field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  rate="$(field accepted_per_s)"
  printf '%-22s %12s %10s %9s %9s %9s %s\n' "$label" "$rate" \
    "$(awk -v r="$rate" -v t="$PGBENCH_TPS" 'BEGIN { printf "%.4f", r / t }')" \
    "$(field p50_ms)" "$(field p99_ms)" "$(field max_ms)" "$(field errors_by_code)"
done
echo
printf '%-26s %12s %10s %s\n' "end to end" sent/s ratio "backlog at 1/3, 2/3, end of load"
grep '^RESULT' "$WORK/bench.out" | grep -- '-e2e ' | while read -r line; do
  field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  rate="$(field sent_per_s)"
  printf '%-26s %12s %10s %s, %s, %s\n' "$(field label)" "$rate" \
    "$(awk -v r="$rate" -v t="$PGBENCH_TPS" 'BEGIN { printf "%.4f", r / t }')" \
    "$(field backlog_third)" "$(field backlog_two_thirds)" "$(field backlog_end)"
done
echo
cat "$WORK/pg.out"
cat "$WORK/seq.out"
cat "$WORK/idle.out"
echo "best closed loop: $BEST/s at $BEST_AT in flight = $(awk -v r="$BEST" -v t="$PGBENCH_TPS" 'BEGIN { printf "%.4f", r / t }') of pgbench"
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
