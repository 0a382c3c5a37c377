#!/usr/bin/env bash
# tests/integration/edge_oauth.sh: POST /v1/auth/token and /v1/auth/revoke
# on the real edge and the real PostgreSQL, driven with curl: the password
# grant (with lockout and TOTP), refresh rotation and reuse, client
# credentials in the body and with HTTP Basic, form and JSON bodies, every
# OAuth error shape and status, revocation (RFC 7009), introspection (RFC
# 7662), the caller's own TOTP enrolment, a saturated pool and
# PostgreSQL stopped answering 503 at once, and no credential in the log.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_oauth
PORT=$((WARDEN_TEST_PORT_BASE + 2))
URL=http://127.0.0.1:$PORT
TOKEN=$URL/v1/auth/token
REVOKE=$URL/v1/auth/revoke
PW='long enough password'
STACK=$WARDEN_ROOT/scripts/stack
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# alice logs in dozens of times here: the login limits have their own test
# (edge_ratelimit.sh)
NOLIMIT=(WARDEN_RATE_LIMIT_LOGIN=off WARDEN_RATE_LIMIT_LOGIN_IP=off)
pm=
# whatever happens: the server running and not stopped
trap '[ -z "$pm" ] || kill -CONT "$pm" 2>/dev/null; "$STACK" start postgresql >/dev/null 2>&1' EXIT

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
q "SELECT warden.create_user('alice', '$PW', 'acme'), warden.create_user('mallory', '$PW'),
          warden.create_user('carol', '$PW'), warden.create_service_account('svc')" >/dev/null
KEY=$(q "SELECT warden.create_api_key('svc', '{document:read}')")

edge_start oauth "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" "${NOLIMIT[@]}" \
  WARDEN_DB_TIMEOUT_MS=1500 || true
LOG=$WARDEN_TEST_TMP/oauth.log

# --- password grant --------------------------------------------------------
http POST "$TOKEN" -d grant_type=password -d username=alice --data-urlencode "password=$PW"
t_eq "password grant: 200" 200 "$HTTP_STATUS"
t_eq "the RFC 6749 5.1 fields" "access_token,expires_in,refresh_token,token_type" \
  "$(jq -r 'keys | join(",")' <<<"$HTTP_BODY")"
t_eq "Bearer, 900 s" "Bearer 900" "$(jq -r '"\(.token_type) \(.expires_in)"' <<<"$HTTP_BODY")"
t_eq "Cache-Control: no-store" no-store "$(header Cache-Control)"
t_eq "Pragma: no-cache" no-cache "$(header Pragma)"
access=$(jq -r .access_token <<<"$HTTP_BODY")
refresh=$(jq -r .refresh_token <<<"$HTTP_BODY")
t_eq "the access token verifies, for alice of acme" "alice acme" \
  "$(q "SELECT warden.verify('$access')->>'sub' || ' ' || (warden.verify('$access')->>'tenant')")"

http POST "$TOKEN" -H 'Content-Type: application/json' \
  -d "{\"grant_type\": \"password\", \"username\": \"alice\", \"password\": \"$PW\"}"
t_eq "a JSON body works too" "200 Bearer" "$HTTP_STATUS $(jq -r .token_type <<<"$HTTP_BODY")"

http POST "$TOKEN" -d grant_type=password -d username=alice -d password=wrong
t_eq "a wrong password: 400 invalid_grant" "400 invalid_grant" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
wrong_user=$(curl -s "$TOKEN" -d grant_type=password -d username=nobody -d password=wrong)
curl -s -o /dev/null -H 'X-Request-Id: it-oauth-join-4711' "$TOKEN" -d grant_type=password -d username=alice -d password=wrong
t_check "the request id reaches the server's log (application_name)" wait_until 5 \
  grep -q 'warden-edge it-oauth-join-4711' "$("$STACK" logs postgresql)"
t_eq "an unknown user gets the very same answer" "$HTTP_BODY" "$wrong_user"

for i in 1 2 3 4 5; do
  curl -s -o /dev/null "$TOKEN" -d grant_type=password -d username=mallory -d password=wrong
done
http POST "$TOKEN" -d grant_type=password -d username=mallory --data-urlencode "password=$PW"
t_eq "after 5 wrong passwords the right one is refused too (locked)" "400 invalid_grant" \
  "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"

# --- TOTP ------------------------------------------------------------------
uri=$(q "SELECT warden.mfa_enroll('carol')")
secret=$(sed -E 's/.*secret=([A-Z2-7]+).*/\1/' <<<"$uri")
totp() { # totp OFFSET_STEPS: the code of the step OFFSET away from now
  python3 -c '
import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1])
step = int(time.time()) // 30 + int(sys.argv[2])
h = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000))' "$secret" "$1"
}
q "SELECT warden.mfa_confirm('carol', '$(totp 0)')" >/dev/null
http POST "$TOKEN" -d grant_type=password -d username=carol --data-urlencode "password=$PW"
t_eq "MFA user without a code: 400 mfa_required" "400 mfa_required" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$TOKEN" -d grant_type=password -d username=carol --data-urlencode "password=$PW" -d "totp=$(totp 1)"
t_eq "with a valid code: 200" 200 "$HTTP_STATUS"
t_eq "and the token says so (amr)" '["pwd","otp","mfa"]' \
  "$(q "SELECT warden.verify('$(jq -r .access_token <<<"$HTTP_BODY")')->'amr'" | jq -c .)"

# --- refresh ---------------------------------------------------------------
http POST "$TOKEN" -d grant_type=refresh_token -d "refresh_token=$refresh"
t_eq "refresh: 200 with a new pair" "200 true" \
  "$HTTP_STATUS $(jq -r --arg r "$refresh" '.refresh_token != $r and .access_token != null' <<<"$HTTP_BODY")"
refresh2=$(jq -r .refresh_token <<<"$HTTP_BODY")
http POST "$TOKEN" -d grant_type=refresh_token -d "refresh_token=$refresh"
t_eq "the used refresh token again: invalid_grant" "400 invalid_grant" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
sleep 1
http POST "$TOKEN" -d grant_type=refresh_token -d "refresh_token=$refresh2"
t_eq "and its reuse revoked the family" "400 invalid_grant" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"

# --- client credentials ----------------------------------------------------
http POST "$TOKEN" -d grant_type=client_credentials --data-urlencode "client_secret=$KEY"
t_eq "client_credentials with the key in the body: 200, no refresh token" "200 access_token,expires_in,token_type" \
  "$HTTP_STATUS $(jq -r 'keys | join(",")' <<<"$HTTP_BODY")"
t_eq "for the service account, with the key's scopes" "svc document:read" \
  "$(q "SELECT warden.verify('$(jq -r .access_token <<<"$HTTP_BODY")')->>'sub' || ' ' || (warden.verify('$(jq -r .access_token <<<"$HTTP_BODY")')->>'scope')")"
http POST "$TOKEN" -u "svc:$KEY" -d grant_type=client_credentials
t_eq "with HTTP Basic: 200" 200 "$HTTP_STATUS"
http POST "$TOKEN" -u "svc:wdn_nope_nope" -d grant_type=client_credentials
t_eq "a wrong key: 401 invalid_client" "401 invalid_client" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
t_eq "with WWW-Authenticate" 'Basic realm="warden"' "$(header WWW-Authenticate)"
http POST "$TOKEN" -d grant_type=client_credentials
t_eq "no client authentication: 401" 401 "$HTTP_STATUS"
http POST "$TOKEN" -u "svc:$KEY" -d grant_type=client_credentials --data-urlencode "client_secret=$KEY"
t_eq "two authentication methods: 400 invalid_request" "400 invalid_request" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$TOKEN" -H 'Authorization: Basic !!!' -d grant_type=client_credentials
t_eq "malformed Basic credentials: 401" 401 "$HTTP_STATUS"

# --- malformed requests ----------------------------------------------------
check_error() { # NAME STATUS ERROR CURL-ARGS...
  local name=$1 status=$2 error=$3
  shift 3
  http POST "$TOKEN" "$@"
  t_eq "$name" "$status $error" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY" 2>/dev/null)"
}
check_error "no grant_type" 400 invalid_request -d username=alice
check_error "an unknown grant_type" 400 unsupported_grant_type -d grant_type=implicit
check_error "a parameter twice" 400 invalid_request -d grant_type=password -d grant_type=password
check_error "a broken percent escape" 400 invalid_request -d 'grant_type=password&username=%zz'
check_error "a NUL in a value" 400 invalid_request -d 'grant_type=password&username=a%00b&password=x'
check_error "password grant without a password" 400 invalid_request -d grant_type=password -d username=alice
check_error "refresh grant without a token" 400 invalid_request -d grant_type=refresh_token
check_error "a JSON body that is not an object" 400 invalid_request -H 'Content-Type: application/json' -d '[1]'
check_error "a JSON number where a string belongs" 400 invalid_request -H 'Content-Type: application/json' -d '{"grant_type": 1}'
check_error "a JSON key twice" 400 invalid_request -H 'Content-Type: application/json' -d '{"grant_type": "password", "grant_type": "password"}'
check_error "broken JSON" 400 invalid_request -H 'Content-Type: application/json' -d '{"grant_type":'
check_error "another content type: 415" 415 invalid_request -H 'Content-Type: text/plain' -d grant_type=password
check_error "an overlong password" 400 invalid_grant -d grant_type=password -d username=alice -d "password=$(printf 'x%.0s' $(seq 1 100))"
head -c 20000 /dev/zero | tr '\0' 'a' >"$WARDEN_TEST_TMP/big.body"
http POST "$TOKEN" --data-binary "@$WARDEN_TEST_TMP/big.body"
t_eq "a body over 16 KiB: 413" 413 "$HTTP_STATUS"
http GET "$TOKEN"
t_eq "GET: 405" 405 "$HTTP_STATUS"

# --- revocation (RFC 7009) -------------------------------------------------
http POST "$TOKEN" -d grant_type=password -d username=alice --data-urlencode "password=$PW"
access=$(jq -r .access_token <<<"$HTTP_BODY")
refresh=$(jq -r .refresh_token <<<"$HTTP_BODY")
http POST "$REVOKE" -d "token=$refresh" -d token_type_hint=refresh_token
t_eq "revoking a refresh token: 200" 200 "$HTTP_STATUS"
http POST "$TOKEN" -d grant_type=refresh_token -d "refresh_token=$refresh"
t_eq "it no longer refreshes" "400 invalid_grant" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$REVOKE" -H 'Content-Type: application/json' -d "{\"token\": \"$access\"}"
t_eq "revoking an access token: 200" 200 "$HTTP_STATUS"
t_match "it no longer verifies (WT008)" 'WT008' \
  "$(psql -X -At -d "$DB" -v VERBOSITY=sqlstate -c "SELECT warden.verify('$access')" 2>&1)"
http POST "$REVOKE" -d token=not-a-token
t_eq "an unknown token: 200 all the same (RFC 7009 2.2)" 200 "$HTTP_STATUS"
http POST "$REVOKE" -d token_type_hint=access_token
t_eq "no token: 400 invalid_request" "400 invalid_request" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"

# --- introspection (RFC 7662) ------------------------------------------------
INTROSPECT=$URL/v1/auth/introspect
q "SELECT warden.create_service_account('gateway')" >/dev/null
GW_KEY=$(q "SELECT warden.create_api_key('gateway', '{token:introspect}')")
http POST "$TOKEN" -d grant_type=password -d username=alice --data-urlencode "password=$PW"
live=$(jq -r .access_token <<<"$HTTP_BODY")
http POST "$INTROSPECT" -u "gateway:$GW_KEY" -d "token=$live"
t_eq "introspect a live token: active, with its claims" "200 true alice Bearer" \
  "$HTTP_STATUS $(jq -r '"\(.active) \(.sub) \(.token_type)"' <<<"$HTTP_BODY")"
http POST "$INTROSPECT" -u "gateway:$GW_KEY" -d "token=$access"
t_eq "a revoked token: inactive, nothing more" '200 {"active":false}' "$HTTP_STATUS $(jq -c . <<<"$HTTP_BODY")"
http POST "$INTROSPECT" -u "gateway:$GW_KEY" -d "token=garbage"
t_eq "garbage: inactive" '200 {"active":false}' "$HTTP_STATUS $(jq -c . <<<"$HTTP_BODY")"
http POST "$INTROSPECT" -u "svc:$KEY" -d "token=$live"
t_eq "a client without the token:introspect scope: 403" "403 insufficient_scope" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$INTROSPECT" -d "token=$live"
t_eq "no client authentication: 401" "401 invalid_client" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$INTROSPECT" -u "gateway:wdn_bad_bad" -d "token=$live"
t_eq "a wrong key: 401" "401 invalid_client" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"

# --- the caller's own TOTP enrolment ----------------------------------------
q "SELECT warden.create_user('dave', '$PW')" >/dev/null
http POST "$TOKEN" -d grant_type=password -d username=dave --data-urlencode "password=$PW"
dave=$(jq -r .access_token <<<"$HTTP_BODY")
http POST "$URL/v1/auth/mfa/enroll"
t_eq "enrolment without a token: 401" "401" "$HTTP_STATUS"
t_eq "with WWW-Authenticate: Bearer" 'Bearer realm="warden"' "$(header WWW-Authenticate)"
http POST "$URL/v1/auth/mfa/enroll" -H "Authorization: Bearer not.a.token"
t_eq "a bad token: 401 invalid_token" "401 invalid_token" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
t_match "named in WWW-Authenticate (RFC 6750)" 'error="invalid_token"' "$(header WWW-Authenticate)"
http POST "$URL/v1/auth/mfa/enroll" -H "Authorization: Bearer $dave"
t_match "enrolment: the otpauth URI for the caller" '^200 otpauth://totp/warden:dave\?secret=[A-Z2-7]{32}' \
  "$HTTP_STATUS $(jq -r .otpauth_uri <<<"$HTTP_BODY")"
secret=$(jq -r .otpauth_uri <<<"$HTTP_BODY" | sed -E 's/.*secret=([A-Z2-7]+).*/\1/')
http POST "$URL/v1/auth/mfa/confirm" -H "Authorization: Bearer $dave" -d code=000000
t_eq "a wrong code: 400 invalid_grant" "400 invalid_grant" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$URL/v1/auth/mfa/confirm" -H "Authorization: Bearer $dave" -d "code=$(totp 0)"
t_eq "the right code: enabled" "200 enabled" "$HTTP_STATUS $(jq -r .mfa <<<"$HTTP_BODY")"
http POST "$URL/v1/auth/mfa/enroll" -H "Authorization: Bearer $dave"
t_eq "enrolling again: 409" "409 mfa_already_enabled" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
http POST "$TOKEN" -d grant_type=password -d username=dave --data-urlencode "password=$PW"
t_eq "from now on login asks for a code" "400 mfa_required" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"

# --- nothing secret in the log ---------------------------------------------
t_eq "the log names routes, never passwords, keys or tokens" 0 \
  "$(grep -c -e "$PW" -e "$KEY" -e "$GW_KEY" -e "$refresh" -e "${access:0:40}" -e "$secret" "$LOG")"
t_match "one access-log line per request, by route" '"route":"/v1/auth/token","status":200' "$(grep '"msg":"request"' "$LOG")"
edge_stop oauth

# --- a saturated pool and PostgreSQL down: 503 at once ---------------------
q "SELECT warden.create_user('slow', '$PW')" >/dev/null
q "UPDATE warden.passwords SET hash = crypt('$PW', gen_salt('bf', 12)) WHERE principal_id = (SELECT id FROM warden.principals WHERE name = 'slow')" >/dev/null 2>&1 ||
  q "SELECT warden.set_password('slow', '$PW')" >/dev/null
edge_start small "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" "${NOLIMIT[@]}" \
  WARDEN_DB_POOL_SIZE=1 WARDEN_DB_QUEUE_MAX=1 WARDEN_DB_TIMEOUT_MS=1500 || true
burst=()
for i in $(seq 1 8); do
  curl -s -o /dev/null -w '%{http_code}\n' "$TOKEN" -d grant_type=password -d username=slow --data-urlencode "password=$PW" &
  burst+=($!)
done >"$WARDEN_TEST_TMP/burst.txt"
wait "${burst[@]}" # not a bare wait: the edge is a child too
t_match "a burst beyond the pool and its queue: some 503" '503' "$(sort "$WARDEN_TEST_TMP/burst.txt" | uniq -c | tr '\n' ' ')"
t_match "and the rest are served" '200' "$(cat "$WARDEN_TEST_TMP/burst.txt")"

"$STACK" stop postgresql >/dev/null
start=$(date +%s%N)
http POST "$TOKEN" -d grant_type=password -d username=alice --data-urlencode "password=$PW"
ms=$((($(date +%s%N) - start) / 1000000))
t_eq "PostgreSQL down: 503 temporarily_unavailable" "503 temporarily_unavailable" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
t_check "within the database timeout ($ms ms)" test "$ms" -lt 2500
t_eq "Retry-After: 1" 1 "$(header Retry-After)"
http GET "$URL/healthz"
t_eq "the edge stays up" 200 "$HTTP_STATUS"
"$STACK" start postgresql >/dev/null
t_check "PostgreSQL back: tokens again, on a fresh connection" \
  wait_until 20 sh -c "curl -s -o /dev/null -w '%{http_code}' '$TOKEN' -d grant_type=password -d username=alice --data-urlencode 'password=$PW' | grep -q 200"
edge_stop small
t_eq "and it drains and exits 0" 0 "$EDGE_STATUS"

# --- SIGTERM while a request waits on a database that hangs ------------------
# A stopped (SIGSTOP) postmaster accepts no connection and refuses none: a
# fresh edge's first request waits for its connection until the deadline.
# SIGTERM meanwhile drains: the request still gets its 503, the edge exits 0.
edge_start hang "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" "${NOLIMIT[@]}" \
  WARDEN_DB_TIMEOUT_MS=2000 || true
pm=$(head -n 1 "$(psql -X -At -c 'SHOW data_directory')/postmaster.pid")
kill -STOP "$pm"
curl -s -o "$WARDEN_TEST_TMP/hang.body" -w '%{http_code}' --max-time 10 "$TOKEN" \
  -d grant_type=password -d username=alice --data-urlencode "password=$PW" >"$WARDEN_TEST_TMP/hang.code" &
client=$!
sleep 0.5
start=$SECONDS
edge_stop hang
wait "$client"
kill -CONT "$pm"
t_eq "the waiting request is answered 503" 503 "$(cat "$WARDEN_TEST_TMP/hang.code")"
t_eq "the edge drained and exited 0" 0 "$EDGE_STATUS"
t_check "within the database deadline ($((SECONDS - start)) s)" test $((SECONDS - start)) -le 4

dropdb "$DB"
t_done
