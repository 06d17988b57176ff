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
# 4. The embedded suite (`complaints dev`, SQLite): its start-up time (spawn
#    to the port accepting and to gRPC health SERVING), its rate, idle CPU
#    and memory (VmRSS idle, VmHWM after the load); the same memory figures
#    for the four production processes.
#
# BENCH_OWN_POSTGRES=1 starts a Postgres of its own (initdb in the work
# folder, a free loopback port, trust auth, pg_stat_statements preloaded,
# every durability setting at its default) and uses it for pgbench and the
# suite alike, so the ceiling and the suite see the same server; it is
# stopped and removed at the end. BENCH_PROFILE=1 implies it and profiles
# the closed-loop run at the highest concurrency: statements from
# pg_stat_statements (by total time and by calls, per accepted complaint),
# WAL per complaint, what the sessions waited on (pg_stat_activity, every
# 50 ms), the CPU each process used, and `perf record -F 499 -g`
# of the case and intake processes (and of the embedded suite during its
# run), built with line tables so that perf can name the symbols.
# BENCH_HISTORY=N first files N complaints (32 in flight, every
# acknowledgement sent) and then runs VACUUM ANALYZE, so that the measured
# runs meet tables with a history and statistics of it, as in a deployment
# that has run a while; without it (the default) they start on empty
# tables, whose first query plans (made before any statistics, and cached
# by each connection) can read whole tables until the next analyse.
# BENCH_STATEMENTS_SHOWN (default 15) sets how many statements each of
# those two lists shows. BENCH_EMBEDDED_CONCURRENCY (default 16) sets the
# embedded suite's load.
#
# BENCH_BIN_DIR runs binaries from elsewhere (with BENCH_SKIP_BUILD=1), e.g.
# an earlier build kept for a before-and-after comparison.
#
# Needs DATABASE_URL (any database on the Postgres to use: only its server
# is taken from it), REDIS_URL, pgbench, psql, redis-cli, sqlite3 (the
# embedded suite's ceiling: durable single-row commits in its folder). Everything it
# creates (databases, Redis keys, processes, files) is removed at the end.
#
#   scripts/bench-intake.sh
#   BENCH_DURATION=10 BENCH_CONCURRENCY="8 32" scripts/bench-intake.sh
#   BENCH_PROFILE=1 BENCH_DURATION=10 BENCH_CONCURRENCY="1 8 16 32" scripts/bench-intake.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${BENCH_DURATION:-20}"
CONCURRENCY="${BENCH_CONCURRENCY:-1 8 16 32 64}"
IDLE_SECONDS="${BENCH_IDLE_SECONDS:-30}"
PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-10}"
DRAIN="${BENCH_DRAIN_SECONDS:-60}"
PROFILE="${BENCH_PROFILE:-0}"
STATEMENTS_SHOWN="${BENCH_STATEMENTS_SHOWN:-15}"
HISTORY="${BENCH_HISTORY:-0}"
OWN_POSTGRES="${BENCH_OWN_POSTGRES:-0}"
if [[ "$PROFILE" == 1 ]]; then OWN_POSTGRES=1; fi
if [[ "$OWN_POSTGRES" == 1 ]]; then
  DATABASE_URL="${DATABASE_URL:-}"
else
  DATABASE_URL="${DATABASE_URL:?set DATABASE_URL to a database on the Postgres to use}"
fi
REDIS_URL="${REDIS_URL:?set REDIS_URL}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${BENCH_BIN_DIR:-$TARGET_DIR/release}"
HZ="$(getconf CLK_TCK)"

PERF=""
if [[ "$PROFILE" == 1 ]]; then
  PERF="$(command -v perf || true)"
  [[ -n "$PERF" ]] || echo "perf not found: no CPU profiles, only the statements" >&2
fi

# The Postgres binaries: those of the server this script starts, or any.
INITDB="$(command -v initdb || echo /usr/lib/postgresql/15/bin/initdb)"
PG_BIN=""
if [[ "$OWN_POSTGRES" == 1 ]]; then
  [[ -x "$INITDB" ]] || { echo "initdb not found (BENCH_OWN_POSTGRES=1)" >&2; exit 1; }
  PG_BIN="$(dirname "$(readlink -f "$INITDB")")"
  PGBENCH="$PG_BIN/pgbench"
else
  PGBENCH="$(command -v pgbench || true)"
  if [[ -z "$PGBENCH" ]]; then
    found=(/usr/lib/postgresql/*/bin/pgbench)
    PGBENCH="${found[-1]}"
  fi
fi
[[ -x "$PGBENCH" ]] || { echo "pgbench not found" >&2; exit 1; }

# The server part of DATABASE_URL, to name other databases on it (replaced
# by the own server's address below when there is one).
SERVER_URL="${DATABASE_URL%/*}"
RUN="$$"
SCRATCH_DB="bench_pgbench_$RUN"
BENCH_DB="bench_intake_$RUN"
PREFIX="bench-intake-$RUN:{deadlines}:"
WORK="$(mktemp -d /tmp/bench-intake.XXXXXX)"
PIDS=()
PERF_PIDS=()
OWN_PG_STARTED=0

# Runs a Postgres server program as the postgres user when this script runs
# as root (initdb and postgres refuse root).
as_postgres() {
  if [[ "$EUID" -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local pid
  for pid in "${PERF_PIDS[@]}"; do
    kill -INT "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PERF_PIDS[@]}" "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ "$OWN_PG_STARTED" == 1 ]]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
      echo "the benchmark's own Postgres did not stop; see $WORK/pg/server.log" >&2
  else
    psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
    psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  redis-cli -u "$REDIS_URL" --scan --pattern "bench-intake-$RUN:*" 2>/dev/null |
    xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Milliseconds between two $EPOCHREALTIME readings.
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

wait_for_port() { # port name pid
  local i
  for i in $(seq 1 6000); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { echo "$2 exited; its log:" >&2; tail -n 30 "$WORK/$2.log" >&2; exit 1; }
    sleep 0.01
  done
  echo "$2 did not start listening on $1" >&2
  exit 1
}

# Whether grpc.health.v1.Health/Check on the port answers SERVING: an empty
# request in gRPC framing over HTTP/2 without TLS; the answer's frame is
# five bytes of header and `08 01` (status = SERVING).
serving() { # port
  local answer
  answer="$(printf '\0\0\0\0\0' | curl -s --max-time 2 --http2-prior-knowledge -X POST \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- \
    "http://127.0.0.1:$1/grpc.health.v1.Health/Check" 2>/dev/null | od -An -tx1 | tr -d ' \n')" || true
  [[ "$answer" == 00000000020801 ]]
}

# After the port accepts: waits for health SERVING and prints the start-up
# line, milliseconds from the spawn.
started() { # name port spawned-at port-open-at
  local i
  for i in $(seq 1 300); do
    if serving "$2"; then
      echo "START $1 port_ms=$(ms_between "$3" "$4") serving_ms=$(ms_between "$3" "$EPOCHREALTIME")" |
        tee -a "$WORK/start.out"
      return 0
    fi
    sleep 0.01
  done
  echo "START $1 port_ms=$(ms_between "$3" "$4") serving_ms=none (health never answered SERVING)" |
    tee -a "$WORK/start.out"
}

# Resident memory now and its high-water mark, MiB, from /proc/<pid>/status.
memory() { # name pid when
  awk -v n="$1" -v w="$3" '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 }
    END { printf "MEM %s %s VmRSS=%.1fMiB VmHWM=%.1fMiB\n", n, w, r / 1024, h / 1024 }' "/proc/$2/status" |
    tee -a "$WORK/mem.out"
}

# CPU time (user + system, in clock ticks) of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Idle CPU of each named pid over IDLE_SECONDS, as a percentage of one core.
idle_cpu() { # name=pid ...
  local pair at_start=() at_end=() i=0
  for pair in "$@"; do at_start+=("$(cpu_ticks "${pair#*=}")"); done
  sleep "$IDLE_SECONDS"
  for pair in "$@"; do at_end+=("$(cpu_ticks "${pair#*=}")"); done
  for pair in "$@"; do
    awk -v n="${pair%%=*}" -v b="${at_start[$i]}" -v a="${at_end[$i]}" -v hz="$HZ" -v s="$IDLE_SECONDS" \
      'BEGIN { printf "IDLE %s cpu_percent=%.2f\n", n, (a - b) * 100 / (hz * s) }'
    i=$((i + 1))
  done
}

# CPU ticks of the own Postgres: the postmaster, its finished children
# (cutime, cstime) and the children still running.
postgres_ticks() {
  local pm total child
  pm="$(head -n1 "$WORK/pg/data/postmaster.pid")"
  total="$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")"
  for child in $(pgrep -P "$pm"); do
    total=$((total + $(cpu_ticks "$child")))
  done
  echo "$total"
}

# CPU ticks this shell's finished children have used (the bench client and
# its tee among them), from `times` in this shell: a command substitution
# would report its own children only.
children_ticks() {
  times >"$WORK/times"
  tail -n1 "$WORK/times" | awk -v hz="$HZ" '{
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
    printf "%.0f\n", t * hz }'
}

# Sets the variable named first to one line of CPU ticks: each named
# process, this shell's finished children (the bench client), the own
# Postgres (0 without one), then the machine's busy and total ticks. Runs
# in this shell (not in a command substitution) for `times`.
cpu_snapshot() { # variable name=pid ...
  local var="$1" pair line="" children
  shift
  for pair in "$@"; do line+="$(cpu_ticks "${pair#*=}") "; done
  children_ticks >"$WORK/children"
  read -r children <"$WORK/children"
  line+="$children "
  if [[ "$OWN_PG_STARTED" == 1 ]]; then line+="$(postgres_ticks) "; else line+="0 "; fi
  line+="$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)"
  printf -v "$var" '%s' "$line"
}

# Where the CPU went during a run: each process's average cores and
# milliseconds per complaint, and the machine's busy cores (the rest of
# the busy time is everybody else: compilers, CI).
cpu_report() { # label complaints "before" "after" name...
  local label="$1" n="$2" before="$3" after="$4"
  shift 4
  awk -v l="$label" -v n="$n" -v b="$before" -v a="$after" -v hz="$HZ" -v names="$* bench-client postgres" 'BEGIN {
    k = split(names, name, " "); split(b, x, " "); split(a, y, " ")
    all = (y[k + 2] - x[k + 2]) / '"$(nproc)"'; busy = y[k + 1] - x[k + 1]
    if (all <= 0) all = 1
    s = all / hz; ours = 0
    printf "CPU %s over %.1f s wall:", l, s
    for (i = 1; i <= k; i++) {
      d = y[i] - x[i]; ours += d
      if (name[i] == "postgres" && y[i] == 0) continue
      printf " %s %.2f cores (%.2f ms/complaint);", name[i], d / hz / s, d * 1000 / hz / n
    }
    printf " machine busy %.2f of %d cores, of which others %.2f\n", busy / hz / s, '"$(nproc)"', (busy - ours) / hz / s
  }' | tee -a "$WORK/cpu.out"
}

perf_start() { # name pid[,pid...]
  [[ -n "$PERF" ]] || return 0
  "$PERF" record -F 499 -g -p "$2" -o "$WORK/perf-$1.data" >"$WORK/perf-$1.log" 2>&1 &
  PERF_PIDS+=("$!")
}

perf_stop() {
  local pid
  for pid in "${PERF_PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PERF_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PERF_PIDS=()
}

# What the suite's Postgres sessions are doing, sampled every 50 ms while
# the profiled run lasts: on CPU, or the wait event they are waiting on
# (`Lock:object` is a heavyweight lock such as the one NOTIFY takes at
# commit, `IO:WALSync` a commit's flush). Stopped with the profilers.
waits_start() {
  printf '%s\n' "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU') || '|' ||
      left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity
    WHERE datname = '$BENCH_DB' AND state = 'active' AND pid <> pg_backend_pid() \\watch 0.05" |
    psql -At "$SERVER_URL/postgres" >"$WORK/waits.raw" 2>/dev/null &
  PERF_PIDS+=("$!")
}

waits_report() { # label
  local samples
  # \watch separates its results with blank lines.
  samples="$(grep -c . "$WORK/waits.raw" || true)"
  {
    echo "WAITS $1: active sessions of the suite, sampled every 50 ms ($samples session samples)"
    grep . "$WORK/waits.raw" | cut -d'|' -f1 | sort | uniq -c | sort -rn | head -n 10 |
      awk -v n="$samples" '{ count = $1; $1 = ""; printf "  %5.1f%% %s\n", 100 * count / (n > 0 ? n : 1), $0 }'
    echo "WAITS $1 by statement (the first 90 characters of each), the 12 most sampled:"
    grep . "$WORK/waits.raw" | sort | uniq -c | sort -rn | head -n 12 |
      awk -v n="$samples" '{ count = $1; $1 = ""; printf "  %5.1f%% %s\n", 100 * count / (n > 0 ? n : 1), $0 }'
  } | tee -a "$WORK/profile.out"
}

# The top symbols by self time of one recording, and the share of each
# binary or library. The reports go through files: a `head` on a pipe would
# end perf with SIGPIPE, which pipefail turns into a failed run.
perf_top() { # name what [binary: its self time by crate]
  local sort
  [[ -s "$WORK/perf-$1.data" ]] || { echo "PERF $1: no recording ($(tail -n1 "$WORK/perf-$1.log" 2>/dev/null))"; return 0; }
  for sort in symbol dso; do
    "$PERF" report -i "$WORK/perf-$1.data" --stdio --no-children --sort "$sort" -g none --percent-limit 0.3 \
      >"$WORK/perf-$1.$sort" 2>/dev/null || true
    # Drop perf's comments and the padding it adds to every line.
    grep -v -e '^#' -e '^[[:space:]]*$' "$WORK/perf-$1.$sort" |
      sed -E -e 's/^ +/  /' -e 's/[[:space:]]+(-[[:space:]]+)*$//' | cut -c1-170 >"$WORK/perf-$1.$sort.top" || true
  done
  # Self time by the crate a Rust function's path starts with (generic
  # code counts for the crate that defines it: `core::ptr::drop_in_place<T>`
  # is core's), the kernel, each library, and the C inside the binary.
  "$PERF" report -i "$WORK/perf-$1.data" --stdio --no-children --sort dso,symbol -g none \
    >"$WORK/perf-$1.dsosym" 2>/dev/null || true
  awk -v bin="${3:-}" '!/^#/ && NF >= 4 {
      pct = $1; sub("%", "", pct); dso = $2; kind = $3
      name = $0; sub(/^[^]]*\] /, "", name)
      if (kind == "[k]") group = "kernel"
      else if (dso != bin) group = dso
      else if (name ~ /::/) { sub(/^[<&* ]*(dyn |mut )*/, "", name); sub(/::.*/, "", name); group = name }
      else group = "C code in " bin
      share[group] += pct
    }
    END { for (g in share) printf "  %6.2f%%  %s\n", share[g], g }' "$WORK/perf-$1.dsosym" |
    sort -rn >"$WORK/perf-$1.crates" || true
  {
    echo "PERF $1 ($2): top symbols by self time, $(grep -o '[0-9]* samples' "$WORK/perf-$1.log" | head -n1 || true)"
    head -n 15 "$WORK/perf-$1.symbol.top"
    echo "PERF $1 by binary or library:"
    head -n 8 "$WORK/perf-$1.dso.top"
    if [[ -n "${3:-}" ]]; then
      echo "PERF $1 by crate:"
      head -n 12 "$WORK/perf-$1.crates"
    fi
  } | tee -a "$WORK/profile.out"
}

# Statements of the benchmark's database from pg_stat_statements since the
# last reset, per complaint: by total time and by calls.
statements_report() { # label complaints
  local order
  {
    echo "STATEMENTS $1 ($2 complaints, warm-up included; all services; pg_stat_statements):"
    psql -At "$SERVER_URL/postgres" -v db="$BENCH_DB" -v n="$2" <<'SQL'
SELECT format('  in all: %s statements per complaint, %s ms of execution per complaint',
  round(sum(s.calls) / :n, 1), round((sum(s.total_exec_time) / :n)::numeric, 2))
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = :'db';
SQL
    for order in total_exec_time calls; do
      echo "  by $order: calls/complaint  ms/complaint  mean_ms  rows/call  share  statement"
      psql -At "$SERVER_URL/postgres" -v db="$BENCH_DB" -v n="$2" -v order="$order" -v shown="$STATEMENTS_SHOWN" <<'SQL'
WITH s AS (
  SELECT s.calls, s.total_exec_time, s.rows, regexp_replace(s.query, '\s+', ' ', 'g') AS query
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
  WHERE d.datname = :'db'
)
SELECT format('  %15s %13s %8s %10s %5s%%  %s',
  round(calls::numeric / :n, 2), round((total_exec_time / :n)::numeric, 3),
  round((total_exec_time / greatest(calls, 1))::numeric, 3), round(rows::numeric / greatest(calls, 1), 1),
  round((100 * total_exec_time / greatest(sum(total_exec_time) OVER (), 0.001))::numeric, 1),
  left(query, 120))
FROM s ORDER BY :"order" DESC LIMIT :shown;
SQL
    done
    psql -At "$SERVER_URL/postgres" -v n="$2" <<'SQL'
SELECT format('WAL per complaint: %s records, %s bytes, %s full-page images, %s flushes (fsync), %s ms waiting for them',
  round(wal_records::numeric / :n, 1), round(wal_bytes / :n), round(wal_fpi::numeric / :n, 2),
  round(wal_sync::numeric / :n, 2),
  round((wal_sync_time / :n)::numeric, 2))
FROM pg_stat_wal;
SQL
  } | tee -a "$WORK/statements.out"
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
  if [[ "$PROFILE" == 1 ]]; then
    # Line tables only: perf names functions (inlined ones too) without the
    # size of full debug information; the code generated is the same.
    export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-line-tables-only}"
  fi
  (cd "$ROOT" && cargo build --release --bins -p complaints -p complaints-case \
    -p complaints-intake -p complaints-escalation -p complaints-notification)
fi

if [[ "$OWN_POSTGRES" == 1 ]]; then
  echo "== a Postgres of the benchmark's own ($PG_BIN)"
  PG_PORT="$(free_port)"
  # The postgres user must reach its data folder inside the work folder.
  chmod 711 "$WORK"
  mkdir "$WORK/pg"
  if [[ "$EUID" -eq 0 ]]; then chown postgres: "$WORK/pg"; fi
  as_postgres "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
    >"$WORK/pg-initdb.log" 2>&1 || { cat "$WORK/pg-initdb.log" >&2; exit 1; }
  # Durability (fsync, synchronous_commit, full_page_writes) stays at the
  # defaults: pgbench and the suite both run on this server, so the
  # ceiling is measured with the settings the suite gets.
  cat >>"$WORK/pg/data/postgresql.conf" <<EOF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'pg_stat_statements'
track_wal_io_timing = on
EOF
  OWN_PG_STARTED=1
  as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w -t 60 start >/dev/null ||
    { cat "$WORK/pg/server.log" >&2; exit 1; }
  SERVER_URL="postgres://postgres@127.0.0.1:$PG_PORT"
  psql -q "$SERVER_URL/postgres" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
  echo "Postgres $(psql -At "$SERVER_URL/postgres" -c "SHOW server_version") on :$PG_PORT;" \
    "$(psql -At "$SERVER_URL/postgres" -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections', 'wal_level')")"
fi

echo "== ceiling: pgbench single-row inserts"
psql -q "$SERVER_URL/postgres" -c "CREATE DATABASE $SCRATCH_DB" >/dev/null
psql -q "$SERVER_URL/$SCRATCH_DB" -c "CREATE TABLE bench_rows (id bigserial PRIMARY KEY, a text, b text)" >/dev/null
echo "INSERT INTO bench_rows (a, b) VALUES ('complaint', 'received');" >"$WORK/insert.sql"
"$PGBENCH" -n -M prepared -c 8 -j 2 -T "$PGBENCH_SECONDS" -f "$WORK/insert.sql" "$SERVER_URL/$SCRATCH_DB" \
  >"$WORK/pgbench.out" 2>&1
PGBENCH_TPS="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/pgbench.out" | head -n1)"
echo "pgbench -n -M prepared -c 8 -j 2 -T $PGBENCH_SECONDS: $PGBENCH_TPS inserts/s (load $(cut -d' ' -f1 /proc/loadavg))"
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
  local name="$1" port="$2" spawned
  shift 2
  spawned="$EPOCHREALTIME"
  env DATABASE_URL="$SERVER_URL/$BENCH_DB" COMPLAINTS_LISTEN="127.0.0.1:$port" "$@" \
    "$BIN/$name" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  eval "PID_${name}=$!"
  wait_for_port "$port" "$name" "$!"
  started "$name" "$port" "$spawned" "$EPOCHREALTIME"
}
# The case service first: it brings the schema up before the others start.
start case "$CASE_PORT"
start escalation "$ESCALATION_PORT" REDIS_URL="$REDIS_URL"
start notification "$NOTIFICATION_PORT"
start intake "$INTAKE_PORT"
echo "started: intake :$INTAKE_PORT, case :$CASE_PORT, escalation :$ESCALATION_PORT, notification :$NOTIFICATION_PORT"
# shellcheck disable=SC2154 # set by start()
SERVICES=(intake="$PID_intake" case="$PID_case" escalation="$PID_escalation" notification="$PID_notification")

echo "== idle CPU over ${IDLE_SECONDS} s (production shape)"
idle_cpu "${SERVICES[@]}" | tee "$WORK/idle.out"
for pair in "${SERVICES[@]}"; do memory "${pair%%=*}" "${pair#*=}" idle; done

bench() { # label args...
  local label="$1"
  shift
  "$BIN/complaints" bench --label "$label" --as adviser "$@" | tee -a "$WORK/bench.out"
  echo "LOAD $label $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/load.out"
}

if [[ "$HISTORY" -gt 0 ]]; then
  echo "== history: $HISTORY complaints, then VACUUM ANALYZE"
  "$BIN/complaints" bench --label history --as adviser --server "http://127.0.0.1:$INTAKE_PORT" \
    --concurrency 32 --count "$HISTORY" --duration 3600 --sent-dir "$WORK/outbox/email" \
    --drain-timeout 300 >"$WORK/history.out"
  grep '^RESULT label=history ' "$WORK/history.out" || true
  psql -q "$SERVER_URL/$BENCH_DB" -c "VACUUM ANALYZE" >/dev/null
fi

# The closed-loop run at the highest concurrency is the one profiled.
PROFILE_AT="$(tr ' ' '\n' <<<"$CONCURRENCY" | sort -n | tail -n1)"

SERVER="http://127.0.0.1:$INTAKE_PORT"
echo "== SubmitComplaint, closed loop, ${DURATION} s each"
BEST=0
BEST_AT=""
cpu_before=""
cpu_after=""
for c in $CONCURRENCY; do
  profiled=0
  if [[ "$PROFILE" == 1 && "$c" == "$PROFILE_AT" ]]; then profiled=1; fi
  if [[ "$profiled" == 1 ]]; then
    psql -q "$SERVER_URL/postgres" -c "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
    # shellcheck disable=SC2154 # set by start()
    perf_start case "$PID_case"
    perf_start intake "$PID_intake"
    perf_start postgres "$(pgrep -d, -P "$(head -n1 "$WORK/pg/data/postmaster.pid")")"
    waits_start
  fi
  before="$(pg_counters)"
  cpu_snapshot cpu_before "${SERVICES[@]}"
  bench "closed-$c" --server "$SERVER" --concurrency "$c" --duration "$DURATION" --sent-dir "$WORK/outbox/email" \
    --drain-timeout "$DRAIN"
  cpu_snapshot cpu_after "${SERVICES[@]}"
  after="$(pg_counters)"
  if [[ "$profiled" == 1 ]]; then perf_stop; fi
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
  cpu_report "closed-$c" "$((accepted + warm))" "$cpu_before" "$cpu_after" intake case escalation notification
  if [[ "$profiled" == 1 ]]; then
    statements_report "closed-$c" "$((accepted + warm))"
    waits_report "closed-$c"
    perf_top case "closed-$c" case
    perf_top intake "closed-$c" intake
    perf_top postgres "closed-$c, every backend of the suite's connections"
  fi
done

HALF_TARGET="$(awk -v t="$PGBENCH_TPS" 'BEGIN { printf "%.0f", t * 0.05 }')"
echo "== SubmitComplaint, open loop at half the target rate (0.05 x pgbench = $HALF_TARGET/s), end to end"
bench "open-half-target" --server "$SERVER" --rate "$HALF_TARGET" --concurrency 2000 --duration "$DURATION" \
  --sent-dir "$WORK/outbox/email" --drain-timeout "$DRAIN"
HALF_BEST="$(awk -v b="$BEST" 'BEGIN { printf "%.0f", b * 0.5 }')"
echo "== SubmitComplaint, open loop at half the measured best ($HALF_BEST/s), end to end"
bench "open-half-best" --server "$SERVER" --rate "$HALF_BEST" --concurrency 2000 --duration "$DURATION" \
  --sent-dir "$WORK/outbox/email" --drain-timeout "$DRAIN"
for pair in "${SERVICES[@]}"; do memory "${pair%%=*}" "${pair#*=}" after-load; done

echo "== tables read whole most (rows read by sequential scans, all services)"
psql -At -F ' ' "$SERVER_URL/$BENCH_DB" -c "SELECT relname, seq_scan, seq_tup_read, idx_scan FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 6" |
  awk '{ printf "SEQ %s seq_scans=%s rows_read=%s index_scans=%s\n", $1, $2, $3, $4 }' | tee "$WORK/seq.out"

# Stop the four processes; one still running 30 s after SIGTERM is reported
# and killed.
stop() { # name pid
  local i stopping="$EPOCHREALTIME"
  kill "$2" 2>/dev/null || return 0
  for i in $(seq 1 300); do
    if ! kill -0 "$2" 2>/dev/null; then
      wait "$2" 2>/dev/null || true
      echo "STOP $1 stopped $(ms_between "$stopping" "$EPOCHREALTIME") ms after SIGTERM" | tee -a "$WORK/idle.out"
      return 0
    fi
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
# Its ceiling, in the folder it will use: SQLite's durable commits of one
# single-row insert each, with the suite's settings (WAL, synchronous=FULL),
# one connection, as the suite has.
mkdir -p "$WORK/dev"
SQLITE_COMMITS=5000
{
  echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
  echo "CREATE TABLE ceiling (id INTEGER PRIMARY KEY, a TEXT, b TEXT);"
  for ((i = 0; i < SQLITE_COMMITS; i++)); do
    echo "BEGIN; INSERT INTO ceiling (a, b) VALUES ('abc', 'def'); COMMIT;"
  done
} >"$WORK/ceiling.sql"
ceiling_started="$EPOCHREALTIME"
sqlite3 "$WORK/ceiling.db" <"$WORK/ceiling.sql" >/dev/null
SQLITE_TPS="$(awk -v n="$SQLITE_COMMITS" -v a="$ceiling_started" -v b="$EPOCHREALTIME" \
  'BEGIN { printf "%.0f", n / (b - a) }')"
rm -f "$WORK/ceiling.db" "$WORK/ceiling.db-wal" "$WORK/ceiling.db-shm" "$WORK/ceiling.sql"
echo "SQLite ceiling: $SQLITE_TPS durable single-row commits/s (WAL, synchronous=FULL)"
DEV_PORT="$(free_port)"
spawned="$EPOCHREALTIME"
env -u REDIS_URL COMPLAINTS_OUTBOX_DIR="$WORK/dev/outbox" \
  "$BIN/complaints" dev --listen "127.0.0.1:$DEV_PORT" --data-dir "$WORK/dev" >"$WORK/dev.log" 2>&1 &
PIDS+=("$!")
DEV_PID="$!"
wait_for_port "$DEV_PORT" dev "$DEV_PID"
started embedded "$DEV_PORT" "$spawned" "$EPOCHREALTIME"
memory embedded "$DEV_PID" started
idle_cpu embedded="$DEV_PID" | tee -a "$WORK/idle.out"
memory embedded "$DEV_PID" idle
for c in ${BENCH_EMBEDDED_CONCURRENCY:-16}; do
  if [[ "$PROFILE" == 1 ]]; then perf_start embedded "$DEV_PID"; fi
  cpu_snapshot cpu_before embedded="$DEV_PID"
  bench "embedded-$c" --server "http://127.0.0.1:$DEV_PORT" --concurrency "$c" --duration "$DURATION" \
    --sent-dir "$WORK/dev/outbox/email" --drain-timeout "$DRAIN"
  cpu_snapshot cpu_after embedded="$DEV_PID"
  if [[ "$PROFILE" == 1 ]]; then perf_stop; fi
  accepted="$(result "embedded-$c" accepted <"$WORK/bench.out")"
  cpu_report "embedded-$c" "$((accepted + 200))" "$cpu_before" "$cpu_after" embedded
  if [[ "$PROFILE" == 1 ]]; then perf_top embedded "embedded-$c" complaints; fi
done
memory embedded "$DEV_PID" after-load
stop embedded "$DEV_PID"
PIDS=()

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
echo "embedded suite against SQLite's ceiling ($SQLITE_TPS durable commits/s, same run):"
grep '^RESULT' "$WORK/bench.out" | grep -- 'label=embedded-' | grep -v -- '-e2e ' | while read -r line; do
  field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  rate="$(field accepted_per_s)"
  printf '  %-20s %10s/s %8s of the ceiling\n' "$(field label)" "$rate" \
    "$(awk -v r="$rate" -v t="$SQLITE_TPS" 'BEGIN { printf "%.4f", r / t }')"
done
echo
printf '%-26s %12s %10s %s\n' "end to end" sent/s ratio "backlog at 1/3, 2/3, end of load"
grep '^RESULT' "$WORK/bench.out" | grep -- '-e2e ' | while read -r line; do
  field() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  rate="$(field sent_per_s)"
  printf '%-26s %12s %10s %s, %s, %s (%s of %s sent)\n' "$(field label)" "$rate" \
    "$(awk -v r="$rate" -v t="$PGBENCH_TPS" 'BEGIN { printf "%.4f", r / t }')" \
    "$(field backlog_third)" "$(field backlog_two_thirds)" "$(field backlog_end)" "$(field sent)" "$(field accepted)"
done
echo
cat "$WORK/pg.out"
cat "$WORK/seq.out"
cat "$WORK/idle.out"
cat "$WORK/start.out"
cat "$WORK/mem.out"
cat "$WORK/cpu.out"
cat "$WORK/load.out"
if [[ "$PROFILE" == 1 ]]; then
  echo
  cat "$WORK/statements.out"
  if [[ -f "$WORK/profile.out" ]]; then cat "$WORK/profile.out"; fi
fi
echo "best closed loop: $BEST/s at $BEST_AT in flight = $(awk -v r="$BEST" -v t="$PGBENCH_TPS" 'BEGIN { printf "%.4f", r / t }') of pgbench"
echo "load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
