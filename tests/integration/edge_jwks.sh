#!/usr/bin/env bash
# tests/integration/edge_jwks.sh: GET /.well-known/jwks.json on the real
# edge: the set warden.jwks() returns, with cache headers and ETag
# revalidation (304), the keys usable by openssl to check a token warden
# signed, and a JSON 503 when the database cannot give a set.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_jwks
NOKEYS=warden_it_jwks_none
PORT=$((WARDEN_TEST_PORT_BASE + 1))
URL=http://127.0.0.1:$PORT
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

for d in "$DB" "$NOKEYS"; do
  dropdb --if-exists "$d" >/dev/null 2>&1
  createdb "$d"
done
q "CREATE EXTENSION warden" >/dev/null
q "SET warden.password_cost = 4; SELECT warden.create_user('jwks_user', 'long enough password')" >/dev/null
token=$(q "SELECT access_token FROM warden.login('jwks_user', 'long enough password')")

edge_start jwks "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" || true

http GET "$URL/.well-known/jwks.json"
t_eq "200" 200 "$HTTP_STATUS"
set=$HTTP_BODY
t_eq "the set warden.jwks() returns" "$(q "SELECT warden.jwks()" | jq -cS .)" "$(jq -cS . <<<"$set")"
t_eq "JSON" application/json "$(header Content-Type)"
t_eq "cacheable by anyone for five minutes" "public, max-age=300" "$(header Cache-Control)"
etag=$(header ETag)
t_match "a strong ETag" '^"[0-9a-f]{16}"$' "$etag"
t_match "a request id" '^[0-9a-f]{32}$' "$(header X-Request-Id)"

http GET "$URL/.well-known/jwks.json" -H "If-None-Match: $etag"
t_eq "revalidation with the ETag: 304" 304 "$HTTP_STATUS"
t_eq "without a body" "" "$HTTP_BODY"
t_eq "and the same ETag" "$etag" "$(header ETag)"
http GET "$URL/.well-known/jwks.json" -H 'If-None-Match: "0000000000000000"'
t_eq "another ETag: the set again" 200 "$HTTP_STATUS"
http HEAD "$URL/.well-known/jwks.json"
t_eq "HEAD" 200 "$HTTP_STATUS"
http POST "$URL/.well-known/jwks.json"
t_eq "POST is not allowed" 405 "$HTTP_STATUS"

# The served key checks a token warden signed (openssl, not our code).
IFS=. read -r h p s <<<"$token"
kid=$(unb64url "$h" | jq -r .kid)
jwk=$(jq -c --arg kid "$kid" '.keys[] | select(.kid == $kid)' <<<"$set")
t_match "the token's key is in the set" '"kty":"RSA"' "$jwk"
jwk_pem "$jwk" "$WARDEN_TEST_TMP/jwks.pem"
printf '%s.%s' "$h" "$p" >"$WARDEN_TEST_TMP/jwks.signed"
unb64url "$s" >"$WARDEN_TEST_TMP/jwks.sig"
t_match "openssl dgst -verify accepts the token with the served key" "Verified OK" \
  "$(openssl dgst -sha256 -verify "$WARDEN_TEST_TMP/jwks.pem" -signature "$WARDEN_TEST_TMP/jwks.sig" "$WARDEN_TEST_TMP/jwks.signed" 2>&1)"
edge_stop jwks

# A database without warden: no set to serve, a JSON 503.
edge_start nokeys "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$NOKEYS" || true
http GET "$URL/.well-known/jwks.json"
t_eq "no set to serve: 503" 503 "$HTTP_STATUS"
t_eq "with a JSON error" unavailable "$(jq -r .error <<<"$HTTP_BODY")"
t_eq "that is not cached" no-store "$(header Cache-Control)"
edge_stop nokeys
t_match "the edge logs why" 'could not read the signing keys' "$(cat "$WARDEN_TEST_TMP/nokeys.log")"

dropdb "$DB"
dropdb "$NOKEYS"
t_done
