#!/usr/bin/env bash
# tests/integration/edge_ratelimit.sh: rate limits on two real edges sharing
# the stack's real Redis: the login limit per user name and per client
# address (429 with Retry-After and RateLimit-* headers), addresses taken
# from X-Forwarded-For only behind a trusted proxy (right-most untrusted
# entry), the per-address limit of /v1/auth/*, endpoints that are never
# limited, what Redis stores (digests, expiring keys), Redis frozen
# (answers go on within the Redis timeout), Redis stopped (each edge limits
# on its own, /readyz says Redis is down, requests are served) and started
# again (limits shared again, the script loaded again), and the metrics.
#
# Redis and PostgreSQL are left running on exit, also on failure.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_ratelimit
PORT_A=$((WARDEN_TEST_PORT_BASE + 8))
PORT_B=$((WARDEN_TEST_PORT_BASE + 9))
A=http://127.0.0.1:$PORT_A
B=http://127.0.0.1:$PORT_B
PW='long enough password'
STACK=$WARDEN_ROOT/scripts/stack
REDIS_PORT=${WARDEN_REDIS_URL##*:}
REDIS_PORT=${REDIS_PORT%%/*}
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
redis_pid() { cat "$WARDEN_STACK_DIR/redis/redis.pid" 2>/dev/null; }
frozen=
restore() {
  [ -z "$frozen" ] || kill -CONT "$frozen" 2>/dev/null
  "$STACK" start redis >/dev/null 2>&1
}
trap restore EXIT

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
q "SELECT warden.create_user(u, '$PW') FROM unnest(ARRAY['alice', 'bob', 'carol', 'dave', 'erin',
     'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6']) AS u" >/dev/null
# buckets of an earlier run must not count here
rcli --scan --pattern 'warden:rl:*' | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null

SETTINGS=("WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB"
  WARDEN_TRUSTED_PROXIES=127.0.0.1
  WARDEN_RATE_LIMIT_LOGIN=3/min,burst=3
  WARDEN_RATE_LIMIT_LOGIN_IP=5/min,burst=5
  WARDEN_RATE_LIMIT_IP=10/min,burst=10
  WARDEN_HEALTH_INTERVAL_MS=200 WARDEN_HEALTH_TIMEOUT_MS=1000)
edge_start a "$PORT_A" "${SETTINGS[@]}" || true
edge_start b "$PORT_B" "${SETTINGS[@]}" || true

metric() { # metric URL NAME: one sample of /metrics
  curl -s --max-time 5 "$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}
redis_up_is() { [ "$(metric "$1" warden_redis_up)" = "$2" ]; }
readyz_is() { # readyz_is URL CODE [DOWN-NAME]
  local body
  body=$(curl -s --max-time 5 -w '\n%{http_code}' "$1/readyz") || return 1
  [ "$(tail -n 1 <<<"$body")" = "$2" ] || return 1
  [ -z "${3:-}" ] || sed '$d' <<<"$body" | jq -e --arg d "$3" '.down | index($d) != null' >/dev/null
}
t_check "both edges connect to Redis" wait_until 10 sh -c \
  "curl -s '$A/metrics' | grep -qx 'warden_redis_up 1' && curl -s '$B/metrics' | grep -qx 'warden_redis_up 1'"

# login EDGE-URL CLIENT USER [PASSWORD]: a password grant through a trusted
# proxy (this test's curl, from 127.0.0.1) for CLIENT
login() {
  http POST "$1/v1/auth/token" -H "X-Forwarded-For: $2" -d grant_type=password \
    -d "username=$3" --data-urlencode "password=${4:-wrong}"
}
answer() { echo "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY" 2>/dev/null)"; }

# --- the login limit per user name, shared by both edges ---------------------
login "$A" 10.1.0.1 alice
t_eq "a wrong password: 400, counted" "400 invalid_grant" "$(answer)"
t_eq "RateLimit-Limit of the tightest bucket (3 per user)" 3 "$(header RateLimit-Limit)"
t_eq "RateLimit-Remaining" 2 "$(header RateLimit-Remaining)"
t_match "RateLimit-Reset in seconds" '^[0-9]+$' "$(header RateLimit-Reset)"
login "$B" 10.1.0.2 alice
t_eq "the second attempt, on the other edge and from another address" "400 invalid_grant" "$(answer)"
t_eq "counts in the same bucket" 1 "$(header RateLimit-Remaining)"
login "$A" 10.1.0.3 alice
t_eq "the third" "400 invalid_grant" "$(answer)"
login "$B" 10.1.0.4 alice "$PW"
t_eq "the fourth, even with the right password: 429 rate_limited" "429 rate_limited" "$(answer)"
t_eq "a JSON error" "application/json" "$(header Content-Type)"
t_eq "saying why" "too many login attempts; retry later" "$(jq -r .message <<<"$HTTP_BODY")"
retry=$(header Retry-After)
t_check "Retry-After: whole seconds up to one token's time, 20 s ($retry)" \
  test -n "$retry" -a "$retry" -ge 1 -a "$retry" -le 20
t_eq "RateLimit-Remaining: 0" 0 "$(header RateLimit-Remaining)"
login "$B" 10.1.0.4 bob
t_eq "another user from that address is not limited" "400 invalid_grant" "$(answer)"

# --- the login limit per client address ----------------------------------------
codes=
for i in 1 2 3 4 5; do
  if [ $((i % 2)) -eq 1 ]; then login "$A" 10.2.0.1 "u$i"; else login "$B" 10.2.0.1 "u$i"; fi
  codes+="$HTTP_STATUS "
done
t_eq "five users from one address, over both edges" "400 400 400 400 400 " "$codes"
login "$A" 10.2.0.1 u6
t_eq "the sixth login from that address: 429" "429 rate_limited" "$(answer)"
login "$A" 10.2.0.2 u6
t_eq "another address behind the same proxy is counted apart" "400 invalid_grant" "$(answer)"

# --- X-Forwarded-For from an untrusted peer is ignored -----------------------------
# 127.0.0.2 is loopback too, but not a trusted proxy: its header means nothing
codes=
for i in 1 2 3 4 5 6; do
  http POST "$A/v1/auth/token" --interface 127.0.0.2 -H "X-Forwarded-For: 10.3.0.$i" \
    -d grant_type=password -d "username=v$i" -d password=wrong
  codes+="$HTTP_STATUS "
done
t_eq "an untrusted peer's forged addresses all count as the peer" "400 400 400 400 400 429 " "$codes"
for path in /healthz /readyz /metrics /.well-known/jwks.json; do
  http GET "$A$path" --interface 127.0.0.2
  t_check "GET $path is never limited ($HTTP_STATUS)" test "$HTTP_STATUS" != 429
done

# --- the per-address limit of every /v1/auth endpoint ------------------------------
# 127.0.0.2 spent 6 of its 10 requests on the logins above
codes=
for i in 1 2 3 4 5; do
  http POST "$A/v1/auth/revoke" --interface 127.0.0.2 -d token=nothing
  codes+="$HTTP_STATUS "
done
t_eq "/v1/auth/revoke: the 11th request of the address is refused" "200 200 200 200 429 " "$codes"
t_eq "as too many requests" "too many requests; retry later" "$(jq -r .message <<<"$HTTP_BODY")"
t_check "with Retry-After ($(header Retry-After) s)" test "$(header Retry-After)" -ge 1
http POST "$A/v1/auth/mfa/enroll" --interface 127.0.0.2
t_eq "and so is every other /v1/auth endpoint" 429 "$HTTP_STATUS"

# behind the trusted proxy: the right-most address it does not trust
codes=
for i in $(seq 1 11); do
  http POST "$B/v1/auth/revoke" -H "X-Forwarded-For: 6.6.6.$i, 10.4.0.1" -d token=nothing
  codes+="$HTTP_STATUS "
done
t_eq "a client's own left-hand entries change nothing: 10.4.0.1 is counted" \
  "200 200 200 200 200 200 200 200 200 200 429 " "$codes"
http POST "$B/v1/auth/revoke" -H "X-Forwarded-For: 10.4.0.1, 10.4.0.2, 127.0.0.1" -d token=nothing
t_eq "a trusted hop in the chain is skipped: 10.4.0.2 is counted" 200 "$HTTP_STATUS"

# --- what Redis holds ----------------------------------------------------------------
keys=$(rcli --scan --pattern 'warden:rl:*' | sort)
t_match "buckets by kind" 'warden:rl:login-user:[0-9a-f]{40}' "$keys"
t_match "per-address buckets" 'warden:rl:ip:[0-9a-f]{40}' "$keys"
t_check "no user name or address in a key" sh -c "! printf '%s' '$keys' | grep -Eq 'alice|10\\.1\\.0|127\\.0'"
key=$(grep -m1 login-user <<<"$keys")
ttl=$(rcli pttl "$key")
t_check "a bucket expires when full again (pttl $ttl ms, at most 3 x 20 s)" \
  test "$ttl" -gt 0 -a "$ttl" -le 60000
t_eq "the salt never expires" -1 "$(rcli pttl warden:rl:salt)"

# --- Redis frozen: the limiter waits WARDEN_REDIS_TIMEOUT_MS, no longer ---------------
frozen=$(redis_pid)
kill -STOP "$frozen"
start=$(date +%s%N)
login "$A" 10.6.0.1 erin "$PW"
ms=$((($(date +%s%N) - start) / 1000000))
kill -CONT "$frozen"
frozen=
t_eq "Redis frozen: the login is still answered from PostgreSQL" 200 "$HTTP_STATUS"
t_check "after the Redis timeout, not Redis's ($ms ms)" test "$ms" -lt 2000
t_check "and Redis is used again once it answers" wait_until 10 redis_up_is "$A" 1

# --- Redis stopped: each edge limits on its own ----------------------------------------
"$STACK" stop redis >/dev/null
t_check "Redis stopped: /readyz 200 (degraded) naming redis" wait_until 10 readyz_is "$A" 200 redis
t_check "warden_redis_up 0" wait_until 5 redis_up_is "$A" 0
login "$A" 10.5.0.9 erin "$PW"
t_eq "requests are served meanwhile (PostgreSQL answers)" "200 true" \
  "$HTTP_STATUS $(jq -r '.access_token != null' <<<"$HTTP_BODY")"
codes=
for i in 1 2 3 4; do
  login "$A" "10.5.0.$i" carol
  codes+="$HTTP_STATUS "
done
t_eq "the login limit still holds, in the edge's own buckets" "400 400 400 429 " "$codes"
t_match "with its Retry-After" '^[0-9]+$' "$(header Retry-After)"
codes=
for i in 1 2 3 4; do
  login "$B" "10.5.1.$i" carol
  codes+="$HTTP_STATUS "
done
t_eq "per edge: the other edge counts for itself" "400 400 400 429 " "$codes"
t_check "counted as decided in process" test "$(metric "$A" warden_edge_rate_limit_local_total)" -ge 4
t_check "Redis errors show in /metrics" test "$(metric "$A" warden_redis_errors_total)" -ge 1

# --- Redis back: shared again -----------------------------------------------------------
"$STACK" start redis >/dev/null
t_check "Redis started: both edges reconnect by themselves" wait_until 10 sh -c \
  "curl -s '$A/metrics' | grep -qx 'warden_redis_up 1' && curl -s '$B/metrics' | grep -qx 'warden_redis_up 1'"
t_check "/readyz ready again" wait_until 10 sh -c "curl -s '$A/readyz' | jq -e '.status == \"ready\"'"
t_check "reconnections counted" test "$(metric "$B" warden_redis_reconnects_total)" -ge 1
codes=
login "$A" 10.7.0.1 dave; codes+="$HTTP_STATUS "
login "$B" 10.7.0.2 dave; codes+="$HTTP_STATUS "
login "$A" 10.7.0.3 dave; codes+="$HTTP_STATUS "
login "$B" 10.7.0.4 dave; codes+="$HTTP_STATUS "
t_eq "the limit is shared by both edges again" "400 400 400 429 " "$codes"
t_check "the restarted Redis was sent the script itself (NOSCRIPT, then EVAL)" \
  sh -c "redis-cli -h 127.0.0.1 -p '$REDIS_PORT' info commandstats | grep -q '^cmdstat_eval:'"
t_check "and a new salt" test "$(rcli exists warden:rl:salt)" = 1

# --- metrics and logs ---------------------------------------------------------------------
curl -s "$A/metrics" >"$WARDEN_TEST_TMP/ratelimit.metrics"
t_check "promtool check metrics accepts them" sh -c "promtool check metrics <'$WARDEN_TEST_TMP/ratelimit.metrics'"
m() { awk -v k="$1" '$1 == k { print $2 }' "$WARDEN_TEST_TMP/ratelimit.metrics"; }
t_check "429s by limit: login per user" test "$(m 'warden_edge_rate_limited_total{limit="login_user"}')" -ge 1
t_check "each edge counts its own (b refused alice, carol and dave)" \
  test "$(metric "$B" 'warden_edge_rate_limited_total{limit="login_user"}')" -ge 3
t_check "per address" test "$(m 'warden_edge_rate_limited_total{limit="ip"}')" -ge 1
t_check "login per address" test "$(m 'warden_edge_rate_limited_total{limit="login_ip"}')" -ge 2
t_check "Redis commands counted" test "$(m warden_redis_commands_total)" -ge 10
t_eq "429s in the request counters" 1 \
  "$([ "$(m 'warden_edge_requests_total{route="/v1/auth/token",code="429"}')" -ge 3 ] && echo 1)"
edge_stop a
t_eq "edge a exits 0" 0 "$EDGE_STATUS"
edge_stop b
t_eq "edge b exits 0" 0 "$EDGE_STATUS"
t_eq "no user name or client address in the logs" 0 \
  "$(cat "$WARDEN_TEST_TMP/a.log" "$WARDEN_TEST_TMP/b.log" | grep -c -e alice -e carol -e '10\.1\.0\.' -e '10\.5\.0\.')"
t_check "the outage was logged" grep -q '"redis connection lost"' "$WARDEN_TEST_TMP/a.log"

dropdb "$DB"
t_done
