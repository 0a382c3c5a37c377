#!/usr/bin/env bash
# tests/integration/edge_redis_tls.sh: the edge to Redis over TLS, through
# the stack's stunnel (TLS mode): rediss:// with WARDEN_REDIS_TLS_TUNNEL.
# The edge's Redis traffic (decisions shared, rate limits, the prober)
# reaches Redis only on its TLS port; the settings refuse rediss:// without
# a tunnel, a tunnel for a plain URL and a tunnel off the loopback. When
# Redis presents a certificate for another host name, or one from another
# CA, the tunnel refuses it: the edge reports Redis down (degraded, still
# ready), keeps answering correctly from PostgreSQL, and is back on Redis
# once the right certificate is. The tunnel itself stopped and started
# again: the same.
. "$WARDEN_ROOT/tests/lib.sh"

if [ "${WARDEN_STACK_TLS:-0}" != 1 ]; then
  t_fail "the stack runs in TLS mode" "start it with WARDEN_STACK_TLS=1 (scripts/test does)"
  t_done
  exit 1
fi

DB=warden_it_redis_tls
PORT=$((WARDEN_TEST_PORT_BASE + 1))
URL=http://127.0.0.1:$PORT
EDGE=${WARDEN_EDGE_BIN:-$WARDEN_ROOT/edge/warden-edge}
STACK=$WARDEN_ROOT/scripts/stack
PW='long enough password'
SECRET=Rd-pw-51c0ffee
REDIS_PORT=${WARDEN_REDIS_URL##*:}
TLS_PORT=$WARDEN_STACK_REDIS_TLS_PORT
TUNNEL_LOG=$("$STACK" logs redis-tunnel)
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# present NAME: the certificate Redis presents to new TLS connections
present() {
  rcli config set tls-cert-file "$WARDEN_STACK_TLS_DIR/$1.crt" \
    tls-key-file "$WARDEN_STACK_TLS_DIR/$1.key" >/dev/null
}
restore() {
  present server
  "$STACK" start redis-tunnel >/dev/null 2>&1
}
trap restore EXIT
# clients Redis has on its TLS port: what the tunnel carries
tls_clients() { rcli client list | grep -c " laddr=127.0.0.1:$TLS_PORT " || true; }
# drops them, so that the edge connects again through the tunnel
drop_tls_clients() { rcli client kill laddr "127.0.0.1:$TLS_PORT" >/dev/null 2>&1 || true; }
readyz() { curl -s --max-time 5 "$URL/readyz"; }
redis_is() { [ "$(readyz | jq -r .checks.redis.status)" = "$1" ]; }
ask() { # PATH-ID: /v1/authz for alice, the status
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/v1/authz" \
    -H "Authorization: Bearer $token" -H "X-Original-URI: /documents/$1"
}

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
q "SELECT warden.create_user('alice', '$PW'), warden.create_role('reader'),
          warden.add_permission('reader', 'document:read'), warden.grant('alice', 'reader'),
          warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{id}'),
          warden.add_route('DELETE', '/documents/{id}', 'document:delete', 'document:{id}')" >/dev/null
token=$(q "SELECT access_token FROM warden.login('alice', '$PW')")
rcli --scan --pattern 'warden:decision:*' | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null
rcli --scan --pattern 'warden:rl:*' | xargs -r redis-cli -h 127.0.0.1 -p "$REDIS_PORT" del >/dev/null

# --- the contract ----------------------------------------------------------

run_edge() { env WARDEN_LISTEN="127.0.0.1:$PORT" "$@" timeout 10 "$EDGE" 2>&1; }
out=$(run_edge WARDEN_REDIS_URL="rediss://:$SECRET@localhost:$TLS_PORT")
t_eq "rediss:// without WARDEN_REDIS_TLS_TUNNEL: exit 2" 2 "$?"
t_match "saying the tunnel is needed" 'rediss:// needs WARDEN_REDIS_TLS_TUNNEL' "$out"
t_eq "without the password" "" "$(grep -o -- "$SECRET" <<<"$out" || true)"
out=$(run_edge WARDEN_REDIS_URL="redis://:$SECRET@127.0.0.1:$REDIS_PORT" WARDEN_REDIS_TLS_TUNNEL="$WARDEN_STACK_REDIS_TUNNEL")
t_eq "a tunnel with a plain redis:// URL: exit 2" 2 "$?"
t_match "saying the URL is plain text" 'WARDEN_REDIS_TLS_TUNNEL: set only with a rediss://' "$out"
t_eq "without the password" "" "$(grep -o -- "$SECRET" <<<"$out" || true)"
out=$(run_edge WARDEN_REDIS_URL="$WARDEN_STACK_REDIS_TLS_URL" WARDEN_REDIS_TLS_TUNNEL="localhost:${WARDEN_STACK_REDIS_TUNNEL##*:}")
t_eq "a tunnel named, not a loopback address: exit 2" 2 "$?"
t_match "saying so" 'must be a loopback address' "$out"

# --- through the tunnel ------------------------------------------------------

t_eq "before the edge starts, Redis has no client on its TLS port" 0 "$(tls_clients)"
edge_start tls "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" \
  "WARDEN_REDIS_URL=$WARDEN_STACK_REDIS_TLS_URL" "WARDEN_REDIS_TLS_TUNNEL=$WARDEN_STACK_REDIS_TUNNEL" \
  WARDEN_HEALTH_INTERVAL_MS=200 || true
t_check "rediss:// through the tunnel: ready" wait_until 10 sh -c "curl -fs '$URL/readyz' | jq -e '.status == \"ready\"'"
t_match "the log says where Redis is reached" \
  "\"redis over TLS through the local tunnel\",\"tunnel\":\"$WARDEN_STACK_REDIS_TUNNEL\",\"server\":\"localhost:$TLS_PORT\"" \
  "$(cat "$WARDEN_TEST_TMP/tls.log")"
t_eq "a decision" 200 "$(ask 1)"
t_check "is shared through Redis" wait_until 5 sh -c "[ -n \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT --scan --pattern 'warden:decision:*')\" ]"
http POST "$URL/v1/auth/token" -d grant_type=password -d username=alice --data-urlencode "password=$PW"
t_eq "a login" 200 "$HTTP_STATUS"
t_match "counted by the rate limits in Redis" '^[1-9]' "$(rcli --scan --pattern 'warden:rl:*' | wc -l)"
t_match "Redis serves the edge on its TLS port (prober and Redis thread)" '^([2-9]|[1-9][0-9])$' "$(tls_clients)"
http GET "$URL/metrics"
t_match "/metrics: redis up" 'warden_redis_up 1' "$HTTP_BODY"

# the tunnel refuses: check_refused NAME WHY-IN-THE-TUNNEL-LOG
check_refused() {
  local name=$1 why=$2 logsize
  logsize=$(stat -c %s "$TUNNEL_LOG")
  present "$name"
  drop_tls_clients
  t_check "$name: the edge reports Redis down" wait_until 10 redis_is down
  http GET "$URL/readyz"
  t_eq "$name: degraded, still ready (200)" "200 degraded redis" \
    "$HTTP_STATUS $(jq -r '.status + " " + (.down | join(","))' <<<"$HTTP_BODY")"
  t_eq "$name: the server got no connection from the tunnel" 0 "$(tls_clients)"
  t_match "$name: the tunnel's log says why" "$why" "$(tail -c +$((logsize + 1)) "$TUNNEL_LOG")"
  t_eq "$name: a decision seen before: 200" 200 "$(ask 1)"
  t_eq "$name: a new one, from PostgreSQL: 200" 200 "$(ask "$RANDOM$RANDOM")"
  t_eq "$name: a refusal still refuses: 403" 403 \
    "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/v1/authz" -H "Authorization: Bearer $token" \
      -H 'X-Original-Method: DELETE' -H 'X-Original-URI: /documents/1')"
  http POST "$URL/v1/auth/token" -d grant_type=password -d username=alice --data-urlencode "password=$PW"
  t_eq "$name: a login still works (rate limits in process)" 200 "$HTTP_STATUS"
  http GET "$URL/metrics"
  t_match "$name: /metrics: redis down" 'warden_redis_up 0' "$HTTP_BODY"
  present server
  t_check "$name: the right certificate again: Redis up" wait_until 15 redis_is up
  t_check "$name: and ready" wait_until 5 sh -c "curl -fs '$URL/readyz' | jq -e '.status == \"ready\"'"
}
check_refused otherhost 'Rejected by CERT at depth=0: CN=otherhost.invalid'
check_refused other-ca-localhost 'Pre-verification error: unable to get local issuer certificate'

"$STACK" stop redis-tunnel >/dev/null
t_check "the tunnel stopped: Redis down" wait_until 10 redis_is down
t_eq "and the edge answers" 200 "$(ask 1)"
"$STACK" start redis-tunnel >/dev/null
t_check "the tunnel back: Redis up" wait_until 15 redis_is up

edge_stop tls
t_eq "it drains and exits 0" 0 "$EDGE_STATUS"
t_check "no edge connection left on the TLS port" wait_until 5 sh -c "[ \$(redis-cli -h 127.0.0.1 -p $REDIS_PORT client list | grep -c ' laddr=127.0.0.1:$TLS_PORT ') = 0 ]"
trap - EXIT
restore
dropdb --if-exists "$DB" >/dev/null 2>&1
t_done
