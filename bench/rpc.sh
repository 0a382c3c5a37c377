#!/usr/bin/env bash
# bench/rpc.sh: the rpc section of make bench.
#
# POST /v1/rpc/echo (a trivial STABLE SQL function of the API schema) with a
# valid token through the edge, driven by wrk with 64 connections, against
# pgbench calling the same function, prepared, in the same run:
#   rps       the edge's requests/s against pgbench's transactions/s with
#             as many clients as wrk has connections (64: what the same
#             clients get connecting to PostgreSQL themselves); goal >= 0.60
#   pool      the same against pgbench with as many clients as the edge has
#             PostgreSQL connections (WARDEN_DB_POOL_SIZE, 10): PostgreSQL's
#             best on this machine, the stricter comparison; no goal
#   shape     the same against pgbench sending the edge's own statements
#   budget    the CPU the edge could spend per call if the edge reached the
#             goal (the machine's CPUs at 0.60 of pgbench's rate, less what
#             wrk, PostgreSQL and Redis spent per call), against what it
#             spends: a ratio under 1 is how much leaner it would have to
#             be; every rep also prints the CPU per call of each process
#   5000      the same requests/s against a fixed 5,000; goal >= 1
#   p95       20 ms over wrk's 95th percentile latency; goal >= 1
# Every request is a whole RPC: the token verified and the permission
# decided in the edge (cached), the rate limits counted (Redis), then one
# round trip to PostgreSQL: the principal and claims set, the role
# switched, the function called, in one transaction.

source "$WARDEN_ROOT/bench/lib.sh"

DB=warden_bench_rpc
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
POOL=10
CONNS=64
EDGE_PORT=$((WARDEN_STACK_PORT_BASE + 32))
W=$BENCH_TMP/rpc
PW='long enough password'
mkdir -p "$W"

command -v wrk >/dev/null || bench_die "wrk is missing (make deps)"

token=$(bench_rpc_db "$DB" "$PW")

cat >"$W/rpc.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"n": 42}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format("p95_us=%d errors=%d\n", latency:percentile(95),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout))
end
EOF
echo 'SELECT api.echo(42);' >"$W/echo.sql"
# what the edge asks of PostgreSQL per call, as pgbench: the same two
# statements in one pipeline (one transaction), prepared
cat >"$W/shape.sql" <<'EOF'
\startpipeline
SELECT WHERE pg_catalog.concat(pg_catalog.set_config('application_name', 'warden-edge ' || 'bench', false), pg_catalog.set_config('warden.principal', 'caller', true), pg_catalog.set_config('warden.claims', '{"sub":"caller"}', true), pg_catalog.set_config('role', 'warden_bench_api', true)) IS NOT NULL;
SELECT pg_catalog.to_json(api.echo(42))::text;
\endpipeline
EOF

# nginx answering the same requests with a static 200: the least CPU a
# request costs an HTTP server on this machine, for scale
NGINX_PORT=$((EDGE_PORT + 1))
command -v nginx >/dev/null || bench_die "nginx is missing (make deps)"
bench_nginx_start "$W" "$NGINX_PORT"
nginx_pid=$NGINX_PID
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null' EXIT

# the rate limiter stays on (each call is counted in Redis), with limits
# this load never reaches
bench_edge_start "$W/edge.log" WARDEN_LISTEN="127.0.0.1:$EDGE_PORT" WARDEN_LOG_LEVEL=warn \
  WARDEN_DB_POOL_SIZE=$POOL WARDEN_RATE_LIMIT_IP=1000000/s WARDEN_RATE_LIMIT_PRINCIPAL=1000000/s \
  WARDEN_DB_ROLE=warden_bench_api WARDEN_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB"
edge_pid=$EDGE_PID
trap 'kill $edge_pid $nginx_pid 2>/dev/null; wait $edge_pid $nginx_pid 2>/dev/null' EXIT

ask() {
  curl -s -o "$W/answer" -w '%{http_code}' -X POST "http://127.0.0.1:$EDGE_PORT/v1/rpc/echo" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"n": 42}'
}
for _ in $(seq 100); do
  [ "$(ask)" = 200 ] && break
  sleep 0.1
done
[ "$(ask)" = 200 ] && [ "$(cat "$W/answer")" = 42 ] ||
  bench_die "the edge does not answer 42 to /v1/rpc/echo ($(cat "$W/answer"); $(tail -n 3 "$W/edge.log"))"

wrk_rpc() { # wrk_rpc SECONDS [PORT]
  local out
  out=$(wrk -t "$(nproc)" -c "$CONNS" -d "${1}s" --timeout 10s -s "$W/rpc.lua" \
    "http://127.0.0.1:${2:-$EDGE_PORT}/v1/rpc/echo" 2>&1) || bench_die "wrk failed: $out"
  awk '/^Requests\/sec:/ { rps = $2 }
       / requests in / { n = $1 }
       /^p95_us=/ { split($1, a, "="); p95 = a[2] / 1000; split($2, b, "="); err = b[2] }
       END { printf "%s %s %d %d\n", rps, p95, err, n }' <<<"$out"
}
pgbench_tps() { # pgbench_tps SECONDS CLIENTS [SCRIPT]: "tps transactions"
  local out
  out=$("$PGBENCH" -n -c "$2" -j "$(nproc)" -M prepared -T "$1" -f "${3:-$W/echo.sql}" "$DB" 2>&1) ||
    bench_die "pgbench failed: $out"
  printf '%s %s\n' "$(sed -nE 's/^tps = ([0-9.]+).*/\1/p' <<<"$out" | head -n 1)" \
    "$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' <<<"$out")"
}
# us TICKS COUNT: microseconds of CPU per call
us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
REDIS_PID=$(redis-cli -u "$WARDEN_REDIS_URL" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')

wrk_rpc 2 >/dev/null
rps=() tps=() pool=() shape=() fixed=() margin=() goal=() budget=() spent=()
for i in $(seq "$REPS"); do
  # CPU per call, to see where the time goes: pgbench's clients and
  # PostgreSQL for a direct call; wrk, the edge, PostgreSQL and Redis for
  # one through the edge
  c0=$(bench_children_ticks) p0=$(bench_pg_ticks)
  read -r t tn <<<"$(pgbench_tps "$SECS" "$CONNS")"
  c1=$(bench_children_ticks) p1=$(bench_pg_ticks)
  tps+=("$t")
  pool+=("$(pgbench_tps "$SECS" "$POOL" | cut -d' ' -f1)")
  shape+=("$(pgbench_tps "$SECS" "$POOL" "$W/shape.sql" | cut -d' ' -f1)")
  c2=$(bench_children_ticks) p2=$(bench_pg_ticks) e2=$(bench_cpu_ticks "$edge_pid") r2=$(bench_cpu_ticks "$REDIS_PID")
  read -r r p95 err rn <<<"$(wrk_rpc "$SECS")"
  c3=$(bench_children_ticks) p3=$(bench_pg_ticks) e3=$(bench_cpu_ticks "$edge_pid") r3=$(bench_cpu_ticks "$REDIS_PID")
  [ "$err" = 0 ] || bench_die "the edge answered $err RPC requests with errors"
  # shellcheck disable=SC2046
  g0=$(bench_cpu_ticks "$nginx_pid" $(pgrep -P "$nginx_pid"))
  read -r _ _ _ gn <<<"$(wrk_rpc "$SECS" "$NGINX_PORT")"
  # shellcheck disable=SC2046
  g1=$(bench_cpu_ticks "$nginx_pid" $(pgrep -P "$nginx_pid"))
  rps+=("$r")
  fixed+=(5000)
  margin+=("$(awk -v p="$p95" 'BEGIN { printf "%.3f", 20 / p }')")
  goal+=(1)
  # what the edge could spend per call at the goal: the machine's CPU at
  # 0.60 of pgbench's rate, less what wrk, PostgreSQL and Redis spent
  spent+=("$(us $((e3 - e2)) "$rn")")
  budget+=("$(awk -v cpus="$(nproc)" -v t="$t" -v w="$(us $((c3 - c2)) "$rn")" \
    -v pg="$(us $((p3 - p2)) "$rn")" -v rd="$(us $((r3 - r2)) "$rn")" \
    'BEGIN { b = cpus * 1e6 / (0.60 * t) - w - pg - rd; printf "%.1f", (b > 0.1 ? b : 0.1) }')")
  printf '  %d/%d pgbench %s tps (%d clients), %s tps (%d), the edge'"'"'s statements %s tps (%d) | edge /v1/rpc (%d connections) %s req/s, p95 %s ms\n' \
    "$i" "$REPS" "$(bench_fmt "$t")" "$CONNS" "$(bench_fmt "${pool[-1]}")" "$POOL" \
    "$(bench_fmt "${shape[-1]}")" "$POOL" "$CONNS" "$(bench_fmt "$r")" "$p95"
  printf '      CPU per call (us): pgbench %s + PostgreSQL %s | wrk %s + edge %s + PostgreSQL %s + Redis %s\n' \
    "$(us $((c1 - c0)) "$tn")" "$(us $((p1 - p0)) "$tn")" "$(us $((c3 - c2)) "$rn")" \
    "${spent[-1]}" "$(us $((p3 - p2)) "$rn")" "$(us $((r3 - r2)) "$rn")"
  printf '      nginx answering the same requests with a static 200: %s us per request; the goal would leave the edge %s\n' \
    "$(us $((g1 - g0)) "$gn")" "${budget[-1]}"
done
kill "$edge_pid" "$nginx_pid" 2>/dev/null
wait "$edge_pid" "$nginx_pid" 2>/dev/null
trap - EXIT
bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" >/dev/null

echo
bench_report rpc/echo-rps req/s "${rps[*]}" "pgbench tps, $CONNS clients" "${tps[*]}" 0.60
bench_report rpc/echo-vs-pool req/s "${rps[*]}" "pgbench tps, $POOL clients" "${pool[*]}" -
bench_report rpc/echo-vs-shape req/s "${rps[*]}" "pgbench, the edge's statements" "${shape[*]}" -
bench_report rpc/edge-cpu-budget "us/call" "${budget[*]}" "the edge's CPU per call (us)" "${spent[*]}" -
bench_report rpc/echo-5000 req/s "${rps[*]}" "a fixed 5,000 req/s" "${fixed[*]}" 1.00
bench_report rpc/echo-p95 "20ms/p95" "${margin[*]}" "goal: p95 of 20 ms" "${goal[*]}" 1.00
