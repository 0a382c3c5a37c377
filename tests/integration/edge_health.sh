#!/usr/bin/env bash
# tests/integration/edge_health.sh: the foundation of warden-edge, driven
# through the real binary against the real PostgreSQL and Redis.
#
# Covers: /healthz and /readyz (first probe, dependency down and back, for
# Redis and PostgreSQL), request ids, 404/405/HEAD, keep-alive, the access
# log (valid JSON, routes not paths, no query strings), invalid settings
# (exit 2 naming the variable), secrets kept out of the log, and shutdown
# (SIGTERM drains a request in flight, refuses new connections, and does not
# wait for idle keep-alive connections).
#
# Services this test stops are started again on exit, also on failure.

source "$WARDEN_ROOT/tests/lib.sh"

EDGE=$WARDEN_ROOT/edge/warden-edge
STACK=$WARDEN_ROOT/scripts/stack
BASE=$WARDEN_TEST_PORT_BASE
PORT=$BASE
URL=http://127.0.0.1:$PORT
# A database with warden in it: an edge is ready only once it follows the
# database's policy stream.
DB=warden_it_health
dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION warden" >/dev/null
# Quick probes so that state changes show within a second or two.
FAST=(WARDEN_HEALTH_INTERVAL_MS=200 WARDEN_HEALTH_TIMEOUT_MS=1000
  "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB")
LOG=$WARDEN_TEST_TMP/main.log
SECRET=Sup3rS3cretPw

STOPPED=()
restore_services() {
  local s
  for s in "${STOPPED[@]}"; do
    [ -n "$s" ] || continue
    "$STACK" start "$s" >/dev/null 2>&1 || echo "# could not restart $s" >&2
  done
}
trap restore_services EXIT

# ------------------------------------------------------------------ helpers

readyz_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1/readyz"
}

# readyz_is URL CODE [DOWN-NAME]: /readyz answers CODE (and names DOWN-NAME
# in "down").
readyz_is() {
  local body
  body=$(curl -s --max-time 5 -w '\n%{http_code}' "$1/readyz") || return 1
  [ "$(tail -n 1 <<<"$body")" = "$2" ] || return 1
  [ -z "${3:-}" ] && return 0
  sed '$d' <<<"$body" | jq -e --arg d "$3" '.down | index($d) != null' >/dev/null
}

# readyz_ready URL: /readyz answers 200 with status "ready" (nothing down).
readyz_ready() {
  curl -s --max-time 5 "$1/readyz" | jq -e '.status == "ready"' >/dev/null
}

# log_has FILE JQ-FILTER: some line of the log satisfies the filter.
log_has() {
  jq -e -s "map(select($2)) | length > 0" "$1" >/dev/null 2>&1
}

# read_response FD: one HTTP response from a raw connection into
# RAW_STATUS, RAW_HEADERS (CRs stripped) and RAW_BODY.
read_response() {
  local fd=$1 line len=0
  RAW_STATUS= RAW_HEADERS= RAW_BODY=
  IFS= read -r -t 5 -u "$fd" line || return 1
  RAW_STATUS=${line%$'\r'}
  while IFS= read -r -t 5 -u "$fd" line; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    RAW_HEADERS+="$line"$'\n'
    case ${line,,} in
    content-length:*) len=${line#*:} len=${len// /} ;;
    esac
  done
  if [ "$len" -gt 0 ]; then
    IFS= read -r -t 5 -N "$len" -u "$fd" RAW_BODY || return 1
  fi
}

raw_header() {
  printf '%s' "$RAW_HEADERS" | awk -v n="$1" '
    { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == tolower(n)) {
        v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

ms_now() { date +%s%3N; }

contains() { grep -qF -- "$1" <<<"$2"; }
lacks() { ! grep -qF -- "$1" <<<"$2"; }

# ------------------------------------------------------------------ start-up

if ! edge_start main "$PORT" "${FAST[@]}"; then
  t_fail "edge starts" "$(tail -n 20 "$LOG" 2>/dev/null)"
  t_done
  exit
fi
t_pass "edge starts and answers /healthz"

t_check "log line 'listening' names the address and version" \
  log_has "$LOG" ".msg == \"listening\" and .address == \"127.0.0.1:$PORT\" and (.version | length > 0)"
# the production binary allocates with jemalloc (edge/edge.mk says why);
# the sanitized one must keep the sanitizers' own allocator
if [ -z "${WARDEN_EDGE_BIN:-}" ]; then
  t_check "the edge allocates with jemalloc" grep -q libjemalloc "/proc/$(edge_pid main)/maps"
else
  t_check "the sanitized edge does not load jemalloc" bash -c "! grep -q libjemalloc /proc/$(edge_pid main)/maps"
fi

# ------------------------------------------------------------------ liveness

http GET "$URL/healthz"
t_eq "/healthz is 200" 200 "$HTTP_STATUS"
t_eq "/healthz body" '{"status":"ok"}' "$(jq -c . <<<"$HTTP_BODY")"
t_eq "/healthz content type" "application/json" "$(header Content-Type)"

# ------------------------------------------------------------------ readiness

t_check "/readyz becomes 200 after the first probe" \
  wait_until 10 readyz_ready "$URL"
http GET "$URL/readyz"
t_eq "/readyz ready body" \
  '{"status":"ready","checks":{"postgresql":{"status":"up"},"redis":{"status":"up"},"policy_stream":{"status":"up"}}}' \
  "$(jq -c . <<<"$HTTP_BODY")"

# ------------------------------------------------------------------ request ids

http GET "$URL/healthz"
t_match "request id generated: 32 hex" '^[0-9a-f]{32}$' "$(header X-Request-Id)"
http GET "$URL/healthz" -H 'X-Request-Id: trace-1.2_3:A'
t_eq "valid request id echoed" "trace-1.2_3:A" "$(header X-Request-Id)"
http GET "$URL/healthz" -H 'X-Request-Id: has spaces in it'
t_match "request id with spaces replaced" '^[0-9a-f]{32}$' "$(header X-Request-Id)"
long=$(printf 'a%.0s' $(seq 300))
http GET "$URL/healthz" -H "X-Request-Id: $long"
t_match "request id of 300 chars replaced" '^[0-9a-f]{32}$' "$(header X-Request-Id)"
http GET "$URL/no/such/thing"
t_match "request id on error responses too" '^[0-9a-f]{32}$' "$(header X-Request-Id)"

# ------------------------------------------------------------------ routing

http GET "$URL/no/such/thing"
t_eq "unknown path is 404" 404 "$HTTP_STATUS"
t_eq "404 content type" "application/json" "$(header Content-Type)"
t_eq "404 body" '{"error":"not_found","message":"no such endpoint"}' \
  "$(jq -c . <<<"$HTTP_BODY")"

http POST "$URL/healthz"
t_eq "POST /healthz is 405" 405 "$HTTP_STATUS"
t_eq "405 Allow header" "GET, HEAD" "$(header Allow)"
t_eq "405 content type" "application/json" "$(header Content-Type)"
t_eq "405 error code" "method_not_allowed" "$(jq -r .error <<<"$HTTP_BODY")"

status=$(curl -s -I -o /dev/null -w '%{http_code}' --max-time 5 "$URL/healthz")
t_eq "HEAD /healthz is 200" 200 "$status"

# ------------------------------------------------------------------ keep-alive

connects=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' \
  --max-time 5 "$URL/healthz" "$URL/readyz" | tr '\n' ' ')
t_eq "keep-alive: second request reuses the connection" "1 0 " "$connects"
http GET "$URL/healthz"
t_eq "no Connection: close while serving" "" "$(header Connection)"

# ------------------------------------------------------------------ access log

http GET "$URL/healthz?email=alice@example.com" -H 'X-Request-Id: log-check-1'
http GET "$URL/private/alice.token.xyz" -H 'X-Request-Id: log-check-2'
t_check "access line of the query request appears" \
  wait_until 5 log_has "$LOG" '.request_id == "log-check-2"'
t_check "every log line is JSON with ts, level, msg" \
  jq -e -s 'all(.ts and .level and .msg)' "$LOG"
t_check "access line has method, route, status, request id, duration, bytes" \
  log_has "$LOG" '.msg == "request" and .request_id == "log-check-1" and .method == "GET" and .route == "/healthz" and .status == 200 and (.duration_ms | type == "number") and .bytes == 15'
t_check "unknown paths are logged as route 'unmatched'" \
  log_has "$LOG" '.request_id == "log-check-2" and .route == "unmatched" and .status == 404'
if grep -q -e 'alice' -e 'email=' "$LOG"; then
  t_fail "no raw path or query string in the log" "$(grep -e alice -e 'email=' "$LOG")"
else
  t_pass "no raw path or query string in the log"
fi

# ------------------------------------------------------------------ settings

check_invalid() {
  local var=$1 val=$2 out rc
  out=$(env "$var=$val" timeout 10 "$EDGE" 2>&1)
  rc=$?
  t_eq "$var=$val exits 2" 2 "$rc"
  t_match "$var=$val: message names the variable" "$var" "$out"
}
check_invalid WARDEN_LISTEN nonsense
check_invalid WARDEN_REDIS_URL http://x
check_invalid WARDEN_THREADS -1
check_invalid WARDEN_HEALTH_INTERVAL_MS 10
check_invalid WARDEN_LOG_LEVEL loud

out=$(env "WARDEN_REDIS_URL=redis://:$SECRET@127.0.0.1:notaport" timeout 10 "$EDGE" 2>&1)
rc=$?
t_eq "invalid Redis URL with a password exits 2" 2 "$rc"
t_check "its message does not show the password" lacks "$SECRET" "$out"

out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" timeout 10 "$EDGE" 2>&1)
rc=$?
t_eq "address in use exits 1" 1 "$rc"
t_match "address in use is reported plainly" "in use" "$out"

out=$(env "WARDEN_REDIS_URL=redis://:$SECRET@127.0.0.1:1" "$EDGE" --help 2>&1)
t_check "--help lists the settings" contains WARDEN_HEALTH_TIMEOUT_MS "$out"
t_check "--help does not show the password" lacks "$SECRET" "$out"
t_match "--version" '^warden-edge [0-9]' "$("$EDGE" --version)"

# ------------------------------------------------------------------ secrets

# The configured Redis with a password it does not expect: AUTH fails, the
# edge reports Redis down, and the password is nowhere in its output.
redis_hostport=${WARDEN_REDIS_URL#*://}
redis_hostport=${redis_hostport##*@}
PW_PORT=$((BASE + 1))
if edge_start pw "$PW_PORT" "${FAST[@]}" "WARDEN_LOG_LEVEL=debug" \
  "WARDEN_REDIS_URL=redis://warden:$SECRET@$redis_hostport"; then
  t_check "wrong Redis password: /readyz 200 degraded, naming redis" \
    wait_until 10 readyz_is "http://127.0.0.1:$PW_PORT" 200 redis
  t_check "wrong Redis password: 'dependency down' logged" \
    wait_until 5 log_has "$WARDEN_TEST_TMP/pw.log" '.msg == "dependency down" and .dependency == "redis"'
  edge_stop pw
  if grep -q "$SECRET" "$WARDEN_TEST_TMP/pw.log"; then
    t_fail "the Redis password never appears in the log" "$(grep "$SECRET" "$WARDEN_TEST_TMP/pw.log")"
  else
    t_pass "the Redis password never appears in the log"
  fi
else
  t_fail "edge with a Redis password starts"
fi

# ------------------------------------------------------------------ dependencies

# dependency_fault SERVICE CHECK-NAME: stop it, see /readyz name it, start it,
# see /readyz recover.
dependency_fault() {
  local svc=$1 name=$2
  if ! "$STACK" stop "$svc" >/dev/null 2>&1; then
    t_fail "stack stop $svc"
    return
  fi
  STOPPED+=("$svc")
  # the edge still answers correctly (from what it holds, or the other
  # dependency): degraded, not taken out of the load balancer
  t_check "$svc stopped: /readyz 200 naming $name" \
    wait_until 10 readyz_is "$URL" 200 "$name"
  http GET "$URL/readyz"
  t_eq "$svc stopped: status degraded" degraded "$(jq -r .status <<<"$HTTP_BODY")"
  t_eq "$svc stopped: check reads down" down "$(jq -r ".checks.$name.status" <<<"$HTTP_BODY")"
  t_match "$svc stopped: down since a timestamp" \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "$(jq -r ".checks.$name.since" <<<"$HTTP_BODY")"
  t_check "$svc stopped: 'dependency down' logged" \
    log_has "$LOG" ".msg == \"dependency down\" and .dependency == \"$name\" and .level == \"warn\" and (.reason | length > 0)"
  http GET "$URL/healthz"
  t_eq "$svc stopped: /healthz still 200" 200 "$HTTP_STATUS"

  if ! "$STACK" start "$svc" >/dev/null 2>&1; then
    t_fail "stack start $svc"
    return
  fi
  STOPPED=("${STOPPED[@]/$svc/}")
  t_check "$svc started again: /readyz ready" \
    wait_until 15 readyz_ready "$URL"
  t_check "$svc started again: 'dependency up' logged" \
    log_has "$LOG" ".msg == \"dependency up\" and .dependency == \"$name\""
}
dependency_fault redis redis
dependency_fault postgresql postgresql

edge_stop main
t_eq "main edge exits 0 on SIGTERM" 0 "$EDGE_STATUS"
t_check "log ends with 'stopped'" \
  bash -c "tail -n 1 '$LOG' | jq -e '.msg == \"stopped\"'"
t_check "'draining' logged" log_has "$LOG" '.msg == "draining"'

# ------------------------------------------------------------------ drain

DRAIN_PORT=$((BASE + 2))
if edge_start drain "$DRAIN_PORT" "${FAST[@]}"; then
  pid=$(edge_pid drain)
  # an idle keep-alive connection, to ask /readyz while draining
  exec {idle}<>"/dev/tcp/127.0.0.1/$DRAIN_PORT"
  printf 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' >&"$idle"
  read_response "$idle"
  t_match "keep-alive connection served" ' 200 ' "$RAW_STATUS"

  # a request in flight: headers complete, half of its body sent
  exec {busy}<>"/dev/tcp/127.0.0.1/$DRAIN_PORT"
  printf 'POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345' >&"$busy"
  sleep 0.5
  kill -TERM "$pid"
  t_check "drain: 'draining' logged with the request in flight" \
    wait_until 5 log_has "$WARDEN_TEST_TMP/drain.log" '.msg == "draining" and .in_flight == 1'
  if curl -s -o /dev/null --max-time 3 "http://127.0.0.1:$DRAIN_PORT/healthz"; then
    t_fail "drain: new connections are refused"
  else
    t_pass "drain: new connections are refused"
  fi

  printf 'GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n' >&"$idle"
  if read_response "$idle"; then
    t_match "drain: /readyz on an open connection is 503" ' 503 ' "$RAW_STATUS"
    t_eq "drain: /readyz says draining" draining "$(jq -r .status <<<"$RAW_BODY")"
    t_eq "drain: responses carry Connection: close" close "$(raw_header Connection)"
  else
    t_fail "drain: /readyz on an open connection answers"
  fi
  exec {idle}>&-

  t_check "drain: edge waits for the request in flight" bash -c "! grep -q '\"stopped\"' '$WARDEN_TEST_TMP/drain.log'"
  printf '67890' >&"$busy"
  if read_response "$busy"; then
    t_match "drain: request in flight completes with 405" ' 405 ' "$RAW_STATUS"
    t_eq "drain: its body is the 405 JSON" method_not_allowed "$(jq -r .error <<<"$RAW_BODY")"
  else
    t_fail "drain: request in flight gets its response"
  fi
  exec {busy}>&-
  wait_exit drain 10
  t_eq "drain: edge exits 0" 0 "$EDGE_STATUS"
  t_check "drain: the request was logged before 'stopped'" \
    bash -c "tail -n 2 '$WARDEN_TEST_TMP/drain.log' | jq -s -e '.[0].status == 405 and .[1].msg == \"stopped\" and .[1].abandoned == 0'"
else
  t_fail "drain edge starts"
fi

# An idle keep-alive connection must not hold the edge past the drain.
IDLE_PORT=$((BASE + 3))
if edge_start idle "$IDLE_PORT" "${FAST[@]}" WARDEN_DRAIN_TIMEOUT_MS=20000; then
  exec {idle}<>"/dev/tcp/127.0.0.1/$IDLE_PORT"
  printf 'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n' >&"$idle"
  read_response "$idle"
  t_match "idle: keep-alive connection served" ' 200 ' "$RAW_STATUS"
  t0=$(ms_now)
  kill -TERM "$(edge_pid idle)"
  wait_exit idle 10
  elapsed=$(($(ms_now) - t0))
  t_eq "idle: edge exits 0" 0 "$EDGE_STATUS"
  if [ "$elapsed" -lt 3000 ]; then
    t_pass "idle: exits promptly (${elapsed} ms) despite an idle connection"
  else
    t_fail "idle: exits promptly despite an idle connection" "took ${elapsed} ms"
  fi
  if IFS= read -r -t 2 -u "$idle" line; then
    t_fail "idle: the connection is closed" "read: $line"
  else
    t_pass "idle: the connection is closed"
  fi
  exec {idle}>&-
else
  t_fail "idle edge starts"
fi

dropdb --if-exists "$DB" >/dev/null 2>&1
t_done
