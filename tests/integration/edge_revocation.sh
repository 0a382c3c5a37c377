#!/usr/bin/env bash
# tests/integration/edge_revocation.sh: the edge verifies tokens and keeps
# decisions itself, and learns of every change from PostgreSQL. Two edge
# processes on one database: a permission revoked, a token revoked, all of a
# principal's tokens revoked, a principal disabled, an API key revoked, each
# denied at both edges within one second; a signing-key rotation picked up
# without a restart; PostgreSQL stopped (valid tokens and cached decisions
# still answered, nothing else guessed) and started again (the edges
# reconnect and follow changes again by themselves).
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_revocation
A=$((WARDEN_TEST_PORT_BASE + 6))
B=$((WARDEN_TEST_PORT_BASE + 7))
PW='long enough password'
STACK="$WARDEN_ROOT/scripts/stack"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
now_ms() { date +%s%3N; }

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
q "SELECT warden.create_user('alice', '$PW', 'acme'), warden.create_user('bob', '$PW'),
          warden.create_service_account('indexer'),
          warden.create_role('reader'), warden.add_permission('reader', 'document:read'),
          warden.grant('alice', 'reader'), warden.grant('bob', 'reader'),
          warden.grant('indexer', 'reader'),
          warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{id}')" >/dev/null
token() { q "SELECT access_token FROM warden.login('$1', '$PW')"; }
KEY=$(q "SELECT warden.create_api_key('indexer', '{document:read}')")

DBURL="WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB"
edge_start a "$A" "$DBURL" WARDEN_SERVER_TIMING=on || true
edge_start b "$B" "$DBURL" WARDEN_SERVER_TIMING=on || true
REDIS_PORT=${WARDEN_REDIS_URL##*:}
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# the full flow starts at the token endpoint of one edge
http POST "http://127.0.0.1:$A/v1/auth/token" --data-urlencode grant_type=password \
  --data-urlencode username=alice --data-urlencode "password=$PW"
t_eq "alice logs in at edge a" 200 "$HTTP_STATUS"
alice=$(jq -r .access_token <<<"$HTTP_BODY")

# status PORT CREDENTIAL-HEADER PATH: the status /v1/authz answers
status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/v1/authz" \
    -H "$2" -H "X-Original-Method: GET" -H "X-Original-URI: $3"
}
# answers PORT CREDENTIAL-HEADER PATH STATUS
answers() { [ "$(status "$1" "$2" "$3")" = "$4" ]; }
# both_answer CREDENTIAL-HEADER PATH STATUS: true when both edges answer STATUS
both_answer() {
  [ "$(status "$A" "$1" "$2")" = "$3" ] && [ "$(status "$B" "$1" "$2")" = "$3" ]
}
# within_a_second NAME CREDENTIAL-HEADER PATH STATUS SQL: runs SQL, then
# polls both edges; passes when both answer STATUS within 1,000 ms of the
# commit.
within_a_second() {
  local name=$1 cred=$2 path=$3 want=$4 sql=$5 t0 t1
  q "$sql" >/dev/null
  t0=$(now_ms)
  while ! both_answer "$cred" "$path" "$want"; do
    [ $(($(now_ms) - t0)) -gt 5000 ] && break
    sleep 0.02
  done
  t1=$(now_ms)
  if both_answer "$cred" "$path" "$want" && [ $((t1 - t0)) -le 1000 ]; then
    t_pass "$name: $want at both edges in $((t1 - t0)) ms"
  else
    t_fail "$name" "wanted $want at both edges within 1000 ms; after $((t1 - t0)) ms: \
$(status "$A" "$cred" "$path") and $(status "$B" "$cred" "$path")"
  fi
}

t_check "both edges verify the token edge a issued and allow her" \
  wait_until 10 both_answer "Authorization: Bearer $alice" /documents/1 200
t_check "and the indexer's API key" both_answer "X-API-Key: $KEY" /documents/1 200
t_check "asked again (now from the API-key cache)" both_answer "X-API-Key: $KEY" /documents/2 200

# ------------------------------------------------------------------ Redis, shared

# timing PORT CREDENTIAL-HEADER PATH: the names in Server-Timing, in order
timing() {
  http GET "http://127.0.0.1:$1/v1/authz" -H "$2" -H "X-Original-Method: GET" -H "X-Original-URI: $3"
  header Server-Timing | sed -E 's/;dur=[0-9.]+//g'
}
t_eq "a decision first made at edge a: the database asked" "verify, cache, redis, db, total" \
  "$(timing "$A" "Authorization: Bearer $alice" /documents/500)"
t_eq "edge b gets it from Redis, without the database" "verify, cache, redis, total" \
  "$(timing "$B" "Authorization: Bearer $alice" /documents/500)"
t_eq "and then from its own cache" "verify, cache, total" \
  "$(timing "$B" "Authorization: Bearer $alice" /documents/500)"
KEY2=$(q "SELECT warden.create_api_key('indexer', '{document:read}')")
# (Server-Timing sums a step taken twice: the key's lookup and the decision's)
t_eq "an API key first seen at edge a: Redis, then the database, for the key and the decision" \
  "redis, db, cache, total" "$(timing "$A" "X-API-Key: $KEY2" /documents/501)"
t_eq "edge b has both from Redis" "redis, cache, total" \
  "$(timing "$B" "X-API-Key: $KEY2" /documents/501)"
keys=$(rcli --scan --pattern 'warden:*' | grep -E '^warden:(decision|api_key):')
t_check "Redis holds decisions and API keys by version and digest" \
  sh -c "printf '%s\n' '$keys' | grep -qE '^warden:decision:[0-9a-f]{32}[.][0-9]+:[0-9]+:[0-9a-f]{64}\$' &&
         printf '%s\n' '$keys' | grep -qE '^warden:api_key:[0-9a-f]{32}[.][0-9]+:[0-9]+:[0-9a-f]{64}\$'"
t_eq "never a path, a principal or a key in clear" 0 \
  "$(printf '%s\n' "$keys" | grep -c -e documents -e alice -e indexer -e "${KEY2:0:16}")"
t_check "with a time to live" test "$(rcli ttl "$(printf '%s\n' "$keys" | grep decision | head -n 1)")" -gt 0

# ------------------------------------------------------------------ policy

within_a_second "a permission revoked" "Authorization: Bearer $alice" /documents/1 403 \
  "SELECT warden.revoke_grant('alice', 'reader')"
within_a_second "granted again" "Authorization: Bearer $alice" /documents/1 200 \
  "SELECT warden.grant('alice', 'reader')"
within_a_second "a deny beats the grant" "Authorization: Bearer $alice" /documents/1 403 \
  "SELECT warden.deny('alice', 'document:read', 'document:1')"
t_eq "the deny is for that document only" 200 "$(status "$A" "Authorization: Bearer $alice" /documents/2)"
q "SELECT warden.remove_deny('alice', 'document:read', 'document:1')" >/dev/null

# ------------------------------------------------------------------ tokens

bob=$(token bob)
t_check "bob's token allowed" wait_until 5 both_answer "Authorization: Bearer $bob" /documents/1 200
within_a_second "bob's access token revoked" "Authorization: Bearer $bob" /documents/1 401 \
  "SELECT warden.revoke('$bob')"
bob_revoked=$bob
t_eq "alice's token is not touched by it" 200 "$(status "$B" "Authorization: Bearer $alice" /documents/1)"

alice2=$(token alice)
t_check "a second token of alice" both_answer "Authorization: Bearer $alice2" /documents/1 200
within_a_second "revoke_all: every token of alice" "Authorization: Bearer $alice2" /documents/1 401 \
  "SELECT warden.revoke_all('alice')"
t_eq "her first token too" 401 "$(status "$A" "Authorization: Bearer $alice" /documents/1)"
sleep 1.1 # a token issued after revoke_all is valid: its iat is in a later second
alice=$(token alice)
t_check "a token issued after revoke_all is accepted" \
  wait_until 5 both_answer "Authorization: Bearer $alice" /documents/1 200

bob=$(token bob)
t_check "bob logged in again" wait_until 5 both_answer "Authorization: Bearer $bob" /documents/1 200
within_a_second "bob disabled: his token stops verifying" "Authorization: Bearer $bob" /documents/1 401 \
  "SELECT warden.set_enabled('bob', false)"
within_a_second "enabled again: the same token verifies" "Authorization: Bearer $bob" /documents/1 200 \
  "SELECT warden.set_enabled('bob', true)"

within_a_second "the API key revoked" "X-API-Key: $KEY" /documents/1 401 \
  "SELECT warden.revoke_api_key('$KEY')"
t_eq "its copy in Redis is not used: the key's version moved on" 401 \
  "$(status "$B" "X-API-Key: $KEY" /documents/501)"

# ------------------------------------------------------------------ Redis down

if "$STACK" stop redis >/dev/null 2>&1; then
  names=$(timing "$A" "Authorization: Bearer $alice" /documents/600)
  t_match "Redis down: a decision never made comes from the database" '^200 .*db, total$' "$HTTP_STATUS $names"
  within_a_second "Redis down: a permission revoked is still denied at both edges" \
    "Authorization: Bearer $alice" /documents/600 403 "SELECT warden.revoke_grant('alice', 'reader')"
  q "SELECT warden.grant('alice', 'reader')" >/dev/null
  "$STACK" start redis >/dev/null 2>&1 || t_fail "stack start redis"
  t_check "Redis back: edge a uses it again by itself" \
    wait_until 10 sh -c "curl -s http://127.0.0.1:$A/metrics | grep -q '^warden_redis_up 1'"
else
  t_fail "stack stop redis"
fi

# ------------------------------------------------------------------ keys

old_kid=$(unb64url "${alice%%.*}" | jq -r .kid)
q "SELECT warden.rotate_signing_key()" >/dev/null
rotated=$(token alice)
new_kid=$(unb64url "${rotated%%.*}" | jq -r .kid)
t_check "after a rotation tokens carry another kid" test "$old_kid" != "$new_kid"
t_check "both edges verify them without a restart" \
  wait_until 2 both_answer "Authorization: Bearer $rotated" /documents/1 200
t_eq "tokens of the retiring key still verify" 200 \
  "$(status "$A" "Authorization: Bearer $alice" /documents/1)"

# a token signed by a key warden never had: the edge's own check, no database
forged=$(printf '%s.%s' "${rotated%.*}" "$(printf 'x%.0s' $(seq 342))")
t_eq "a forged signature: 401" 401 "$(status "$A" "Authorization: Bearer $forged" /documents/1)"

# ------------------------------------------------------------------ PostgreSQL down

cached_path=/documents/77
t_eq "a decision cached before the outage" 200 "$(status "$A" "Authorization: Bearer $alice" $cached_path)"
if "$STACK" stop postgresql >/dev/null 2>&1; then
  t_eq "PostgreSQL down: a valid token with a cached decision is still allowed" 200 \
    "$(status "$A" "Authorization: Bearer $alice" $cached_path)"
  t_eq "a revoked token is still refused" 401 "$(status "$A" "Authorization: Bearer $bob_revoked" /documents/1)"
  t_eq "a forged token is still refused" 401 "$(status "$A" "Authorization: Bearer $forged" $cached_path)"
  http GET "http://127.0.0.1:$A/v1/authz" -H "Authorization: Bearer $alice" \
    -H "X-Original-Method: GET" -H "X-Original-URI: /documents/78"
  t_eq "a decision never made: 503, not a guess" 503 "$HTTP_STATUS"
  t_eq "with Retry-After" 1 "$(header Retry-After)"
  degraded() { curl -s -w ' %{http_code}' "http://127.0.0.1:$1/readyz" | grep -q '"status":"degraded".* 200$'; }
  t_check "edge a, which holds the state, is ready but degraded" wait_until 5 degraded "$A"
  # an edge that starts while PostgreSQL is down reads what the others left
  # in Redis: the state, revoked ids, principals, versions
  C=$((WARDEN_TEST_PORT_BASE + 8))
  edge_start c "$C" "$DBURL" || true
  t_check "an edge started during the outage answers a valid token with a shared decision" \
    wait_until 10 answers "$C" "Authorization: Bearer $alice" $cached_path 200
  t_eq "it refuses a token revoked before it started" 401 \
    "$(status "$C" "Authorization: Bearer $bob_revoked" $cached_path)"
  t_eq "and one of a principal revoked with revoke_all" 401 \
    "$(status "$C" "Authorization: Bearer $alice2" $cached_path)"
  t_eq "a decision nobody made: 503" 503 "$(status "$C" "Authorization: Bearer $alice" /documents/79)"
  t_check "it is ready, degraded" wait_until 5 degraded "$C"
  t_check "and says where its state came from" \
    grep -q '"edge state loaded from Redis while PostgreSQL is away"' "$WARDEN_TEST_TMP/c.log"
  # without that state in Redis an edge could verify nothing: it says so
  saved=$(rcli --scan --pattern 'warden:state:*' | head -n 1)
  rcli rename "$saved" "$saved.aside" >/dev/null
  D=$((WARDEN_TEST_PORT_BASE + 9))
  edge_start d "$D" "$DBURL" || true
  t_eq "an edge started with neither PostgreSQL nor a state in Redis: 503" 503 \
    "$(status "$D" "Authorization: Bearer $alice" $cached_path)"
  http GET "http://127.0.0.1:$D/readyz"
  t_eq "and not ready" "503 not_ready" "$HTTP_STATUS $(jq -r .status <<<"$HTTP_BODY")"
  rcli rename "$saved.aside" "$saved" >/dev/null
  "$STACK" start postgresql >/dev/null 2>&1 || t_fail "stack start postgresql"
  t_check "PostgreSQL back: the edge that had nothing loads the state and answers" \
    wait_until 15 answers "$D" "Authorization: Bearer $alice" $cached_path 200
  edge_stop c
  edge_stop d
  t_check "the edges reconnect by themselves: a decision never made is made" \
    wait_until 15 answers "$A" "Authorization: Bearer $alice" /documents/78 200
  stream_up() { curl -s "http://127.0.0.1:$1/readyz" | jq -e '.checks.policy_stream.status == "up"'; }
  t_check "/readyz shows the policy stream up again at both edges" \
    wait_until 15 eval 'stream_up "$A" && stream_up "$B"'
  within_a_second "and changes reach them again" "Authorization: Bearer $alice" $cached_path 403 \
    "SELECT warden.revoke_grant('alice', 'reader')"
else
  t_fail "stack stop postgresql"
fi

# ------------------------------------------------------------------ /metrics

curl -s "http://127.0.0.1:$A/metrics" >"$WARDEN_TEST_TMP/metrics.txt"
m() { awk -v k="$1" '$1 == k { print $2 }' "$WARDEN_TEST_TMP/metrics.txt"; }
t_check "promtool check metrics accepts the verification and cache figures" \
  sh -c "promtool check metrics <'$WARDEN_TEST_TMP/metrics.txt'"
t_check "valid tokens counted" test "$(m 'warden_edge_token_verifications_total{result="valid"}')" -gt 10
t_check "invalid ones too" test "$(m 'warden_edge_token_verifications_total{result="invalid"}')" -gt 3
t_check "verified tokens found in the token cache" test "$(m 'warden_edge_cache_hits_total{cache="token"}')" -gt 5
t_check "decisions from the decision cache" test "$(m 'warden_edge_cache_hits_total{cache="decision"}')" -gt 5
t_check "and decisions it had to ask for" test "$(m 'warden_edge_cache_misses_total{cache="decision"}')" -gt 3
t_check "API keys from their cache" test "$(m 'warden_edge_cache_hits_total{cache="api_key"}')" -ge 1
t_eq "the policy stream is up" 1 "$(m warden_edge_policy_stream_up)"
t_check "and was made again once after the outage" test "$(m warden_edge_policy_stream_reconnects_total)" -ge 1
t_eq "the policy version is the database's" "$(q "SELECT warden.policy_version()")" "$(m warden_edge_policy_version)"
t_check "revoked ids held" test "$(m warden_edge_revoked_tokens)" -ge 1
t_eq "two signing keys verify (active and retiring)" 2 "$(m warden_edge_signing_keys)"

t_eq "the logs hold no token and no key" 0 \
  "$(cat "$WARDEN_TEST_TMP/a.log" "$WARDEN_TEST_TMP/b.log" | grep -c -e "${alice:0:40}" -e "${KEY:0:20}")"
edge_stop a
t_eq "edge a stops cleanly" 0 "$EDGE_STATUS"
edge_stop b
dropdb "$DB"
t_done
