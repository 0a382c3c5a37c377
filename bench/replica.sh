#!/usr/bin/env bash
# bench/replica.sh: the replica section of make bench.
#
# Read-only /v1/rpc (POST /v1/rpc/echo, a trivial STABLE SQL function) with
# a valid token, driven by wrk with 64 connections, through two edges
# running side by side on the same stack: one with the stack's streaming
# hot standby as its read replica (WARDEN_DATABASE_READ_URL), its reads
# served there, and one with the primary only. They alternate, rep by rep:
#   read-rps   the edge with the replica's requests/s against the edge
#              without one's; no goal (the issue sets none): the ratio
# Each rep also prints where the reads went (the edge's own counters) and
# the CPU per call of the edge, the primary and the standby.
#
# What the figure means here: the primary and the standby are two
# PostgreSQL servers on the same CPUs as wrk and the edge (2 on the
# reference machine), so a replica adds no capacity; the ratio shows what
# routing a read to a replica costs or saves at the edge and the servers
# (the lag and state probes, a second pool and its thread, a standby's
# snapshot handling) when the CPUs are the limit. On separate machines the
# replica's share of the reads is capacity taken off the primary.

source "$WARDEN_ROOT/bench/lib.sh"

DB=warden_bench_replica
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
POOL=10
CONNS=64
PORT_REPLICA=$((WARDEN_STACK_PORT_BASE + 40))
PORT_PRIMARY=$((WARDEN_STACK_PORT_BASE + 41))
STACK=$WARDEN_ROOT/scripts/stack
W=$BENCH_TMP/replica
PW='long enough password'
mkdir -p "$W"

command -v wrk >/dev/null || bench_die "wrk is missing (make deps)"

token=$(bench_rpc_db "$DB" "$PW")

# a fresh standby of all that, removed again at the end
"$STACK" reset standby >/dev/null 2>&1 || true
"$STACK" start standby >"$W/standby.log" 2>&1 || {
  cat "$W/standby.log" >&2
  bench_die "the stack could not start its standby"
}
SB_PORT=$WARDEN_STACK_STANDBY_PORT
SB_PIDFILE=$WARDEN_STACK_DIR/postgresql/standby/data/postmaster.pid

cat >"$W/rpc.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"n": 42}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format("errors=%d\n", summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.status + summary.errors.timeout))
end
EOF

# the same settings as the rpc section: the rate limiter on, out of reach
edge() { # edge PORT [VAR=VALUE...]: started in the background, its pid in EDGE_PID
  local port=$1
  shift
  bench_edge_start "$W/edge-$port.log" WARDEN_LISTEN="127.0.0.1:$port" WARDEN_LOG_LEVEL=warn \
    WARDEN_DB_POOL_SIZE=$POOL WARDEN_RATE_LIMIT_IP=1000000/s WARDEN_RATE_LIMIT_PRINCIPAL=1000000/s \
    WARDEN_DB_ROLE=warden_bench_api WARDEN_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB" \
    "$@"
}
edge "$PORT_REPLICA" WARDEN_DATABASE_READ_URL="postgresql://postgres@127.0.0.1:$SB_PORT/$DB"
edge_r=$EDGE_PID
edge "$PORT_PRIMARY"
edge_p=$EDGE_PID
cleanup() {
  kill "$edge_r" "$edge_p" 2>/dev/null || true
  wait "$edge_r" "$edge_p" 2>/dev/null || true
  "$STACK" reset standby >/dev/null 2>&1 || true
}
trap cleanup EXIT

ask() { # ask PORT: the status; the answer in $W/answer
  curl -s -o "$W/answer" -w '%{http_code}' -X POST "http://127.0.0.1:$1/v1/rpc/echo" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"n": 42}'
}
reads() { # reads PORT POOL: the edge's count of reads that pool served
  curl -s "http://127.0.0.1:$1/metrics" |
    awk -v m="warden_edge_db_reads_total{pool=\"$2\"}" '$1 == m { print $2 }'
}
for port in "$PORT_REPLICA" "$PORT_PRIMARY"; do
  for _ in $(seq 100); do
    [ "$(ask "$port")" = 200 ] && break
    sleep 0.1
  done
  [ "$(ask "$port")" = 200 ] && [ "$(cat "$W/answer")" = 42 ] ||
    bench_die "the edge on $port does not answer 42 ($(cat "$W/answer"); $(tail -n 3 "$W/edge-$port.log"))"
done
# the replica up in the edge's eyes: its reads go there
for _ in $(seq 100); do
  before=$(reads "$PORT_REPLICA" replica-1)
  ask "$PORT_REPLICA" >/dev/null
  [ "$(reads "$PORT_REPLICA" replica-1)" = "$((before + 1))" ] && break
  sleep 0.1
done
[ "$(reads "$PORT_REPLICA" replica-1)" -gt 0 ] || bench_die "the edge sends no read to the replica"

wrk_rpc() { # wrk_rpc SECONDS PORT: "rps requests errors"
  local out
  out=$(wrk -t "$(nproc)" -c "$CONNS" -d "${1}s" --timeout 10s -s "$W/rpc.lua" \
    "http://127.0.0.1:$2/v1/rpc/echo" 2>&1) || bench_die "wrk failed: $out"
  awk '/^Requests\/sec:/ { rps = $2 }
       / requests in / { n = $1 }
       /^errors=/ { split($1, a, "="); err = a[2] }
       END { printf "%s %d %d\n", rps, n, err }' <<<"$out"
}
us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
# the standby's CPU: its postmaster, what it reaped, and its live children
sb_ticks() {
  local pm kids
  pm=$(head -n 1 "$SB_PIDFILE")
  kids=$(pgrep -P "$pm" | tr '\n' ' ')
  # shellcheck disable=SC2086
  echo $(($(sed -E 's/^.*\) //' "/proc/$pm/stat" | awk '{ print $12 + $13 + $14 + $15 }') +
    $(bench_cpu_ticks $kids)))
}
# one rep against one edge: "rps calls edge-us primary-us standby-us"
measure() { # measure PORT EDGE_PID
  local e0 p0 s0 e1 p1 s1 r n err
  e0=$(bench_cpu_ticks "$2") p0=$(bench_pg_ticks) s0=$(sb_ticks)
  read -r r n err <<<"$(wrk_rpc "$SECS" "$1")"
  e1=$(bench_cpu_ticks "$2") p1=$(bench_pg_ticks) s1=$(sb_ticks)
  [ "$err" = 0 ] || bench_die "the edge on $1 answered $err requests with errors"
  echo "$r $n $(us $((e1 - e0)) "$n") $(us $((p1 - p0)) "$n") $(us $((s1 - s0)) "$n")"
}

wrk_rpc 2 "$PORT_REPLICA" >/dev/null
wrk_rpc 2 "$PORT_PRIMARY" >/dev/null
with=() without=()
for i in $(seq "$REPS"); do
  # which edge goes first alternates, so that a drifting load on the
  # machine weighs on both alike
  [ $((i % 2)) = 1 ] || read -r pr _ pe pp ps <<<"$(measure "$PORT_PRIMARY" "$edge_p")"
  r0=$(reads "$PORT_REPLICA" replica-1) q0=$(reads "$PORT_REPLICA" primary)
  read -r rr _ re rp rs <<<"$(measure "$PORT_REPLICA" "$edge_r")"
  r1=$(reads "$PORT_REPLICA" replica-1) q1=$(reads "$PORT_REPLICA" primary)
  [ $((i % 2)) = 0 ] || read -r pr _ pe pp ps <<<"$(measure "$PORT_PRIMARY" "$edge_p")"
  with+=("$rr") without+=("$pr")
  printf '  %d/%d with the replica %s req/s (reads: %d on the replica, %d on the primary) | primary only %s req/s\n' \
    "$i" "$REPS" "$(bench_fmt "$rr")" $((r1 - r0)) $((q1 - q0)) "$(bench_fmt "$pr")"
  printf '      CPU per call (us): with the replica: edge %s + primary %s + standby %s | primary only: edge %s + primary %s + standby %s\n' \
    "$re" "$rp" "$rs" "$pe" "$pp" "$ps"
done
cleanup
trap - EXIT
bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" >/dev/null

echo
bench_report replica/read-rps req/s "${with[*]}" "the edge without replica" "${without[*]}" -
