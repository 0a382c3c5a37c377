#!/usr/bin/env bash
# tests/integration/tokens_openssl.sh: warden's tokens checked by an
# independent implementation (openssl), hostile tokens signed with a key
# warden trusts, and the concurrency rules of login and refresh, on the real
# PostgreSQL of the stack.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_tokens
T=$WARDEN_TEST_TMP/tokens
mkdir -p "$T"

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# sqlstate SQL: the SQLSTATE the statement fails with, or "ok".
sqlstate() {
  local out
  if out=$(psql -X -q -At -d "$DB" -v VERBOSITY=sqlstate -v ON_ERROR_STOP=1 -c "$1" 2>&1); then
    echo ok
  else
    printf '%s\n' "$out" | sed -n 's/^ERROR:  *\([0-9A-Z]\{5\}\).*/\1/p' | head -n 1
  fi
}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden; SET warden.password_cost = 4; SELECT warden.create_user('alice', 'correct horse battery', 'acme');" >/dev/null
# the role the concurrency tests log in with changes the setting per session
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null

# --- an issued token verifies with openssl and the JWKS -----------------------

token=$(q "SELECT access_token FROM warden.login('alice', 'correct horse battery')")
IFS=. read -r h p s <<<"$token"
kid=$(unb64url "$h" | jq -r .kid)
alg=$(unb64url "$h" | jq -r .alg)
t_eq "header names RS256" RS256 "$alg"
jwk=$(q "SELECT k FROM jsonb_array_elements(warden.jwks()->'keys') k WHERE k->>'kid' = '$kid'")
t_match "the JWKS publishes the token's key" '"kty": ?"RSA"' "$jwk"
jwk_pem "$jwk" "$T/pub.pem"
printf '%s.%s' "$h" "$p" >"$T/input"
unb64url "$s" >"$T/sig"
t_match "openssl dgst -verify accepts the signature" "Verified OK" \
  "$(openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/input" 2>&1)"
printf '%s.%sx' "$h" "$p" >"$T/input.bad"
t_match "openssl dgst -verify refuses a changed payload" "Verification failure" \
  "$(openssl dgst -sha256 -verify "$T/pub.pem" -signature "$T/sig" "$T/input.bad" 2>&1)"
t_match "the JWK's kid is its RFC 7638 thumbprint" "^$kid\$" \
  "$(printf '{"e":"%s","kty":"RSA","n":"%s"}' "$(jq -r .e <<<"$jwk")" "$(jq -r .n <<<"$jwk")" |
    openssl dgst -sha256 -binary | b64url)"

# --- hostile tokens, signed by a key warden trusts -----------------------------

# A key of our own, published as a retiring key: warden verifies with it, so
# every claim check is reached with a valid signature.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/own.pem" 2>/dev/null
own_n=$(openssl rsa -in "$T/own.pem" -noout -modulus | sed 's/^Modulus=//' |
  perl -ne 'chomp; print pack("H*", $_)' | b64url)
own_jwk="{\"kty\":\"RSA\",\"kid\":\"own\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"$own_n\",\"e\":\"AQAB\"}"
q "INSERT INTO warden.signing_keys (kid, state, public_jwk, private_key, bits, verify_until)
   VALUES ('own', 'retiring', '$own_jwk', '\\x00', 2048, now() + interval '1 hour')"
openssl rsa -in "$T/own.pem" -pubout -out "$T/own.pub" 2>/dev/null

now=$(date +%s)
# sign HEADER-JSON CLAIMS-JSON: a compact JWS signed with our key
sign() {
  local hh pp
  hh=$(printf '%s' "$1" | b64url)
  pp=$(printf '%s' "$2" | b64url)
  printf '%s.%s.%s' "$hh" "$pp" \
    "$(printf '%s.%s' "$hh" "$pp" | openssl dgst -sha256 -sign "$T/own.pem" | b64url)"
}
claims() { # exp iat [extra json members]
  printf '{"iss":"warden","aud":"warden","sub":"alice","jti":"%s","iat":%s,"exp":%s%s}' \
    "$(cat /proc/sys/kernel/random/uuid)" "$2" "$1" "${3:-}"
}
H='{"alg":"RS256","typ":"JWT","kid":"own"}'

t_eq "a well-formed token of our key verifies" ok \
  "$(sqlstate "SELECT warden.verify('$(sign "$H" "$(claims $((now + 600)) "$now")")')")"
declare -A hostile=(
  [expired]="WT006|$(sign "$H" "$(claims $((now - 600)) $((now - 1200)))")"
  [not yet valid (nbf)]="WT007|$(sign "$H" "$(claims $((now + 600)) "$now" ",\"nbf\":$((now + 300))")")"
  [issued in the future]="WT007|$(sign "$H" "$(claims $((now + 1200)) $((now + 600)))")"
  [wrong issuer]="WT009|$(sign "$H" "$(claims $((now + 600)) "$now" | sed 's/"iss":"warden"/"iss":"evil"/')")"
  [wrong audience]="WT010|$(sign "$H" "$(claims $((now + 600)) "$now" | sed 's/"aud":"warden"/"aud":"other"/')")"
  [missing sub]="WT011|$(sign "$H" "$(claims $((now + 600)) "$now" | sed 's/"sub":"alice",//')")"
  [exp as a string]="WT011|$(sign "$H" "$(claims "\"$((now + 600))\"" "$now")")"
  [unknown kid]="WT004|$(sign '{"alg":"RS256","kid":"nope"}' "$(claims $((now + 600)) "$now")")"
  [missing kid]="WT004|$(sign '{"alg":"RS256"}' "$(claims $((now + 600)) "$now")")"
  [crit header]="WT003|$(sign '{"alg":"RS256","kid":"own","crit":["exp"],"exp":1}' "$(claims $((now + 600)) "$now")")"
  [alg PS256]="WT003|$(sign '{"alg":"PS256","kid":"own"}' "$(claims $((now + 600)) "$now")")"
  [duplicate alg]="WT001|$(sign '{"alg":"RS256","alg":"none","kid":"own"}' "$(claims $((now + 600)) "$now")")"
  [duplicate claim]="WT001|$(sign "$H" "$(claims $((now + 600)) "$now" ',"sub":"root"')")"
  [header not an object]="WT001|$(sign '["RS256"]' "$(claims $((now + 600)) "$now")")"
  [payload not JSON]="WT001|$(sign "$H" 'not json')"
)
for name in "${!hostile[@]}"; do
  want=${hostile[$name]%%|*}
  tok=${hostile[$name]#*|}
  t_eq "hostile: $name" "$want" "$(sqlstate "SELECT warden.verify('$tok')")"
done

# alg confusion: HS256 whose HMAC key is our RSA public key (PEM bytes)
hs_h=$(printf '{"alg":"HS256","typ":"JWT","kid":"own"}' | b64url)
hs_p=$(claims $((now + 600)) "$now" | b64url)
hs_s=$(printf '%s.%s' "$hs_h" "$hs_p" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat "$T/own.pub")" -binary | b64url)
t_eq "hostile: HS256 keyed with the RSA public key" WT003 \
  "$(sqlstate "SELECT warden.verify('$hs_h.$hs_p.$hs_s')")"
t_eq "hostile: alg none" WT003 \
  "$(sqlstate "SELECT warden.verify('$(printf '{"alg":"none"}' | b64url).$hs_p.')")"
big=$(head -c 6000 /dev/zero | tr '\0' 'a')
t_eq "hostile: huge header" WT002 \
  "$(sqlstate "SELECT warden.verify('$(sign "{\"alg\":\"RS256\",\"kid\":\"own\",\"x\":\"$big\"}" "$(claims $((now + 600)) "$now")")')")"
t_eq "hostile: over a lowered warden.max_token_size" WT002 \
  "$(sqlstate "SET warden.max_token_size = 1024; SELECT warden.verify('$(sign "$H" "$(claims $((now + 600)) "$now" ",\"pad\":\"${big:0:1000}\"")")')")"
q "DELETE FROM warden.signing_keys WHERE kid = 'own'"
t_eq "a retired key no longer verifies" WT004 \
  "$(sqlstate "SELECT warden.verify('$(sign "$H" "$(claims $((now + 600)) "$now")")')")"

# --- concurrency -----------------------------------------------------------------

# Two refreshes of one token at once: exactly one wins.
rt=$(q "SELECT refresh_token FROM warden.login('alice', 'correct horse battery')")
for i in 1 2; do
  sqlstate "SELECT warden.refresh('$rt')" >"$T/refresh.$i" &
done
wait
results=$(sort "$T/refresh.1" "$T/refresh.2" | tr '\n' ' ')
t_eq "parallel refreshes of one token: one wins, one is refused" "WT012 ok " "$results"

# Ten wrong passwords at once with a threshold of five: the account locks,
# every attempt is counted, and then the right password is refused too.
q "ALTER DATABASE $DB SET warden.lockout_threshold = 5" >/dev/null
q "SELECT warden.unlock('alice')" >/dev/null
for i in $(seq 1 10); do
  sqlstate "SELECT warden.login('alice', 'wrong password $i')" >"$T/login.$i" &
done
wait
t_eq "parallel wrong passwords all fail alike" "28P01" "$(cat "$T"/login.* | sort -u | tr -d '\n')"
t_eq "then the right password is refused: locked" 28P01 \
  "$(sqlstate "SELECT warden.login('alice', 'correct horse battery')")"
failures() { q "SELECT count(*) FROM warden.audit_log WHERE event = 'login_failed' AND principal = 'alice' AND detail->>'reason' = '$1'"; }
audited() { [ "$(($(failures wrong_password) + $(failures locked)))" -ge 11 ]; }
wait_until 10 audited
t_eq "exactly the threshold of attempts reached the password check" 5 "$(failures wrong_password)"
t_eq "every later attempt was refused as locked, and audited" 6 "$(failures locked)"
t_eq "the lock is in the audit log" 1 \
  "$(q "SELECT count(*) FROM warden.audit_log WHERE event = 'account_locked' AND principal = 'alice'")"

psql -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null 2>&1 || true
t_done
