#!/usr/bin/env bash
# tests/integration/edge_pool.sh: the primary's connection pool on the HTTP
# workers' own loops (edge/dbpool.c, edge/httploop.c), on the real edge.
#
# Covers: a database named by a host name whose resolution takes seconds
# (build/tools/slowdns.so) stalls no worker (/healthz and a second request
# answer at once while the first waits for its connection), and the call
# then succeeds; more workers than connections (jobs handed to another
# worker's shard) and an uneven split, under concurrent load, every answer
# 200 and the pool's gauges back to 0; clients that reset their connections
# while their calls wait in PostgreSQL, on a busy worker (the edge keeps
# serving, and drops those requests when their calls end); a worker whose
# connections cannot be made (its calls go to a worker that has one);
# SIGTERM with a call in flight on a worker's connection (answered, then
# the edge exits 0).
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_pool
PORT=$WARDEN_TEST_PORT_BASE
BASE_URL=http://127.0.0.1:$PORT
APP=regress_pool_app
LOGIN=regress_pool_login
PW='long enough password'
SLOWDNS=$WARDEN_ROOT/build/tools/slowdns.so

TOKEN=$(rpc_db "$DB" "$APP" "$PW" <<SQL
CREATE FUNCTION api.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION api.nap(s float8) RETURNS text LANGUAGE sql VOLATILE
  AS \$\$SELECT pg_sleep(s)::text || 'rested'\$\$;
GRANT EXECUTE ON FUNCTION api.add(int, int), api.nap(float8) TO $APP;
SQL
)
AUTH="Authorization: Bearer $TOKEN"
EDGE=(WARDEN_DB_ROLE=$APP WARDEN_RATE_LIMIT_IP=1000000/s WARDEN_RATE_LIMIT_PRINCIPAL=1000000/s)

# add_call [CURL ARGS...]: "status total_seconds body" of POST /v1/rpc/add {1, 2}
add_call() {
  local out
  out=$(curl -s --max-time 10 -w '\n%{http_code} %{time_total}' -X POST \
    -H "$AUTH" -H 'Content-Type: application/json' --data '{"a": 1, "b": 2}' \
    "$BASE_URL/v1/rpc/add" "$@")
  printf '%s %s\n' "$(tail -n 1 <<<"$out")" "$(head -n 1 <<<"$out")"
}
# stop_within NAME SECONDS: SIGTERM, and the edge must exit 0 in time (a
# worker that misses the stop would hang it).
stop_within() {
  kill -TERM "$(edge_pid "$1")" 2>/dev/null
  wait_exit "$1" "$2"
  t_eq "$1: the edge exits 0 within $2 s of SIGTERM" 0 "$EDGE_STATUS"
}
gauge() {
  curl -s --max-time 5 "$BASE_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# --- a host name that resolves slowly -----------------------------------------
if [ ! -f "$SLOWDNS" ]; then
  t_fail "build/tools/slowdns.so is built (make tools)"
else
  # one worker: had it resolved the name itself, everything would wait
  edge_start dns "$PORT" "${EDGE[@]}" WARDEN_THREADS=1 WARDEN_DB_POOL_SIZE=2 \
    WARDEN_DB_TIMEOUT_MS=8000 LD_PRELOAD="$SLOWDNS" SLOWDNS_MS=2000 \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "WARDEN_DATABASE_URL=postgresql://postgres@db.slow.test:$PGPORT/$DB" || true
  add_call >"$WARDEN_TEST_TMP/first.out" &
  first=$!
  sleep 0.3
  slowest=0
  for _ in 1 2 3 4 5; do
    t=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$BASE_URL/healthz")
    t_eq "/healthz answers while a connection is being resolved" 200 "${t%% *}"
    slowest=$(awk -v a="$slowest" -v b="${t#* }" 'BEGIN { print (b > a) ? b : a }')
    sleep 0.2
  done
  t_check "... each within 0.5 s (slowest: ${slowest}s)" awk -v s="$slowest" 'BEGIN { exit !(s < 0.5) }'
  wait "$first"
  read -r status secs body <"$WARDEN_TEST_TMP/first.out"
  t_eq "the call waiting for the connection is answered" "200 3" "$status $body"
  t_check "... once the name resolved (${secs}s, the lookup takes 2 s)" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 1.8 && s < 6) }'
  read -r status secs body <<<"$(add_call)"
  t_eq "the next call uses the connection made" "200 3" "$status $body"
  t_check "... at once (${secs}s)" awk -v s="$secs" 'BEGIN { exit !(s < 0.5) }'
  stop_within dns 10
fi

# --- more workers than connections, and an uneven split --------------------------
LOCAL_DB="WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB"
cat >"$WARDEN_TEST_TMP/add.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"a": 1, "b": 2}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
EOF
for shape in "4 1" "2 3"; do
  read -r threads size <<<"$shape"
  edge_start "split$threads" "$PORT" "${EDGE[@]}" "$LOCAL_DB" \
    WARDEN_THREADS="$threads" WARDEN_DB_POOL_SIZE="$size" || true
  # a generous timeout: this checks answers, not latency, on a loaded machine
  out=$(wrk -t2 -c32 -d2s --timeout 10s -s "$WARDEN_TEST_TMP/add.lua" "$BASE_URL/v1/rpc/add" 2>&1)
  n=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' <<<"$out")
  t_check "$threads workers, $size connections: calls answered under load (${n:-0})" \
    test "${n:-0}" -ge 200
  t_check "... every one 200, no socket error" bash -c \
    '! grep -Eq "Non-2xx|Socket errors" <<<"$1"' _ "$out"
  t_eq "... none left running" 0 "$(gauge warden_edge_db_pool_busy)"
  t_eq "... none left waiting" 0 "$(gauge warden_edge_db_pool_waiting)"
  stop_within "split$threads" 10
done

# --- clients that leave while their calls wait -------------------------------------
# One worker kept busy (wrk), so a waiting call stays parked rather than
# suspended (http.c's HttpWait); each client resets its connection (RST)
# while its call sleeps in PostgreSQL. The edge must drop the request only
# once the call ends, and keep serving (the sanitized run checks the rest).
edge_start leave "$PORT" "${EDGE[@]}" "$LOCAL_DB" WARDEN_THREADS=1 WARDEN_DB_POOL_SIZE=2 || true
wrk -t1 -c8 -d3s --timeout 10s -s "$WARDEN_TEST_TMP/add.lua" "$BASE_URL/v1/rpc/add" \
  >"$WARDEN_TEST_TMP/leave.wrk" 2>&1 &
load=$!
sleep 0.3
python3 - "$PORT" "$TOKEN" <<'PY'
import socket, struct, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
body = b'{"s": 0.4}'
for _ in range(6):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'POST /v1/rpc/nap HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer ' + token.encode() +
              b'\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body) + body)
    time.sleep(0.1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
PY
wait "$load"
t_check "calls of clients that stayed were answered meanwhile, all 200" bash -c \
  '! grep -Eq "Non-2xx|Socket errors" "$1" && grep -q "requests in" "$1"' _ "$WARDEN_TEST_TMP/leave.wrk"
sleep 0.6
t_check "the edge is still up" kill -0 "$(edge_pid leave)"
t_eq "a call after: 200" "200 3" "$(add_call | cut -d' ' -f1,3)"
t_eq "... none left running" 0 "$(gauge warden_edge_db_pool_busy)"
t_eq "... no request left in flight" 1 "$(gauge warden_edge_requests_in_flight)"
stop_within leave 10

# --- a worker whose connections cannot be made ------------------------------------
# Each worker opens its share of the pool as its calls need it. While new
# connections fail (here the login role's connection limit, reached; in
# life also max_connections, a changed certificate, pg_hba), a worker that
# has none hands its calls to one that has, instead of failing them.
qp "DROP ROLE IF EXISTS $LOGIN" >/dev/null
qp "CREATE ROLE $LOGIN LOGIN IN ROLE warden_auth, $APP" >/dev/null
pool_conns() {
  qp "SELECT count(*) FROM pg_stat_activity WHERE usename = '$LOGIN' AND application_name LIKE 'warden-edge %'"
}
edge_start full "$PORT" "${EDGE[@]}" "WARDEN_DATABASE_URL=postgresql://$LOGIN@127.0.0.1:$PGPORT/$DB" \
  WARDEN_THREADS=2 WARDEN_DB_POOL_SIZE=2 || true
t_eq "a first call: 200" "200 3" "$(add_call | cut -d' ' -f1,3)"
t_eq "... one worker has made its connection, the other none" 1 "$(pool_conns)"
qp "ALTER ROLE $LOGIN CONNECTION LIMIT $(qp "SELECT count(*) FROM pg_stat_activity WHERE usename = '$LOGIN'")"
# each call on a connection of its own, which either worker may accept
answers=$(for _ in $(seq 40); do add_call | cut -d' ' -f1,3; done | sort | uniq -c | awk '{ print $1, $2, $3 }')
t_eq "the role at its connection limit: 40 calls, each on a new connection, all 200" "40 200 3" "$answers"
t_check "... though the other worker's connection was refused" \
  grep -q 'too many connections for role' "$WARDEN_TEST_TMP/full.log"
out=$(wrk -t2 -c16 -d2s --timeout 10s -s "$WARDEN_TEST_TMP/add.lua" "$BASE_URL/v1/rpc/add" 2>&1)
n=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' <<<"$out")
t_check "... and under load (${n:-0} calls)" test "${n:-0}" -ge 200
t_check "... every one 200" bash -c '! grep -Eq "Non-2xx|Socket errors" <<<"$1"' _ "$out"
t_eq "... and the one connection served them all" 1 "$(pool_conns)"
qp "ALTER ROLE $LOGIN CONNECTION LIMIT -1"
stop_within full 10
qp "DROP ROLE $LOGIN" >/dev/null

# --- SIGTERM with a call in flight on a worker's connection -----------------------
edge_start drain "$PORT" "${EDGE[@]}" "$LOCAL_DB" WARDEN_THREADS=2 WARDEN_DB_POOL_SIZE=2 || true
curl -s --max-time 10 -w '\n%{http_code}' -X POST -H "$AUTH" -H 'Content-Type: application/json' \
  --data '{"s": 1}' "$BASE_URL/v1/rpc/nap" >"$WARDEN_TEST_TMP/nap.out" &
nap=$!
sleep 0.4
kill -TERM "$(edge_pid drain)"
sleep 0.2
curl -s -o /dev/null --max-time 2 "$BASE_URL/healthz"
t_eq "new connections are refused while draining" 7 "$?"
wait "$nap"
t_eq "the call in flight is answered" "200 \"rested\"" \
  "$(tail -n 1 "$WARDEN_TEST_TMP/nap.out") $(head -n 1 "$WARDEN_TEST_TMP/nap.out")"
wait_exit drain 10
t_eq "then the edge exits 0" 0 "$EDGE_STATUS"

t_done
