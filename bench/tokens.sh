#!/usr/bin/env bash
# bench/tokens.sh: the tokens section of make bench.
#
# On one backend (pgbench, one client, prepared protocol), each repetition:
#   openssl  `openssl speed -seconds N rsa2048`: raw sign/s and verify/s of
#            the same OpenSSL on the same machine, one thread (the reference)
#   verify, 100 per query
#            warden.verify(token) on a valid access token, 100 calls in one
#            query: what one backend verifies per second, without the client
#            round trip; goal: >= 60% of raw verify/s
#   verify   the same, one call a query (no goal: bounded by the round trip)
#   round trip
#            SELECT 1: the most one client can get through one backend,
#            whatever the function (the ceiling of one call a query)
#   client_credentials, 10 per query
#            warden.client_credentials(api_key): issuance, one RSA signature
#            around a cached key lookup, 10 calls in one query; goal: >= 85%
#            of raw sign/s
#   refresh  warden.refresh() chained through \gset (each call uses up its
#            refresh token and returns the next): a signature, the
#            rotation's writes and a durable commit each (no goal)
#   refresh-async
#            the same with synchronous_commit = off: without the wait for
#            the WAL flush, i.e. the disk's share (no goal)
# The reference and the measurements alternate, so a busy moment of the
# machine hits both. Then, fewer and shorter (slow by design):
#   login    warden.login with the default Blowfish cost 12, next to
#            pgcrypto's crypt() on the same hash (no goal)
# Token set-up uses warden.password_cost = 4, so logging in for a fresh
# refresh token is quick; the login user keeps the default cost.

source "$WARDEN_ROOT/bench/lib.sh"

DB=warden_bench
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
LOGIN_SECS=${BENCH_LOGIN_SECONDS:-3}
LOGIN_REPS=${BENCH_LOGIN_REPS:-3}
TOKEN_PW=bench-tokens-password
LOGIN_PW=bench-login-password
W=$BENCH_TMP/tokens
mkdir -p "$W"

# --------------------------------------------------------------- set-up

bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
bench_psql "$DB" >/dev/null <<SQL
CREATE EXTENSION warden;
CREATE EXTENSION pgcrypto;	-- crypt(): the reference of login
SET warden.password_cost = 4;
SELECT warden.create_user('bench_tokens', '$TOKEN_PW');
RESET warden.password_cost;
SELECT warden.create_user('bench_login', '$LOGIN_PW');
SELECT warden.create_service_account('bench_service');
SQL
API_KEY=$(bench_psql "$DB" -At -c "SELECT warden.create_api_key('bench_service', '{document:read}')")

LOGIN_HASH=$(bench_psql "$DB" -At -c "SELECT hash FROM warden.passwords
  WHERE principal_id = (SELECT id FROM warden.principals WHERE name = 'bench_login')")
# shellcheck disable=SC2016 # a literal $2a$12$
[[ $LOGIN_HASH == '$2a$12$'* ]] ||
  bench_die "the login user's hash does not have the default cost 12"

# login_tokens: "access_token refresh_token" of a fresh login (cost 4).
login_tokens() {
  bench_psql "$DB" -At -F ' ' -c \
    "SELECT access_token, refresh_token FROM warden.login('bench_tokens', '$TOKEN_PW')"
}

refresh_seed() { login_tokens | cut -d' ' -f2; }

# The first login creates the signing keys; the token must verify.
tokens=$(login_tokens)
read -r ACCESS _ <<<"$tokens"
sub=$(bench_psql "$DB" -At -v t="$ACCESS" <<<"SELECT warden.verify(:'t')->>'sub'")
[ "$sub" = bench_tokens ] ||
  bench_die "a fresh access token does not verify"

# pgbench's variables are :name (no psql-style :'name'); under -M prepared
# they are bound as parameters.
echo 'SELECT warden.verify(:token);' >"$W/verify.sql"
echo 'SELECT count(warden.verify(:token)) FROM generate_series(1, 100);' >"$W/verify100.sql"
echo 'SELECT 1;' >"$W/roundtrip.sql"
echo 'SELECT count((warden.client_credentials(:key)).access_token) FROM generate_series(1, 10);' >"$W/cc10.sql"
# \gset keeps the newest refresh token in :rt for the client's next
# transaction; a stale one would fail as reuse and abort the run.
echo 'SELECT refresh_token AS rt FROM warden.refresh(:rt) \gset' >"$W/refresh.sql"
echo "SELECT access_token FROM warden.login('bench_login', :pw);" >"$W/login.sql"
echo 'SELECT crypt(:pw, :hash) = :hash;' >"$W/crypt.sql"

# ------------------------------------------------------------ measurements

sign=() ver=() verify=() verify100=() roundtrip=() cc10=() refresh=() refresh_async=()
for ((i = 1; i <= REPS; i++)); do
  ref=$(bench_openssl_rsa 2048 "$SECS")
  read -r s v <<<"$ref"
  sign+=("$s") ver+=("$v")
  t=$(bench_pgbench_tps "$DB" "$W/verify.sql" "$SECS" -D token="$ACCESS")
  verify+=("$t")
  t=$(bench_pgbench_tps "$DB" "$W/verify100.sql" "$SECS" -D token="$ACCESS")
  verify100+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 100 }')")
  t=$(bench_pgbench_tps "$DB" "$W/roundtrip.sql" "$SECS")
  roundtrip+=("$t")
  t=$(bench_pgbench_tps "$DB" "$W/cc10.sql" "$SECS" -D key="$API_KEY")
  cc10+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 10 }')")
  seed=$(refresh_seed)
  t=$(bench_pgbench_tps "$DB" "$W/refresh.sql" "$SECS" -D rt="$seed")
  refresh+=("$t")
  seed=$(refresh_seed)
  t=$(PGOPTIONS='-c synchronous_commit=off' bench_pgbench_tps "$DB" "$W/refresh.sql" "$SECS" -D rt="$seed")
  refresh_async+=("$t")
  printf '  %d/%d per second: openssl sign %s verify %s | verify %s, x100 %s, round trip %s | client_credentials x10 %s | refresh %s, async %s\n' \
    "$i" "$REPS" "$(bench_fmt "$s")" "$(bench_fmt "$v")" "$(bench_fmt "${verify[-1]}")" \
    "$(bench_fmt "${verify100[-1]}")" "$(bench_fmt "${roundtrip[-1]}")" "$(bench_fmt "${cc10[-1]}")" \
    "$(bench_fmt "${refresh[-1]}")" "$(bench_fmt "${refresh_async[-1]}")"
done

login=() crypt=()
for ((i = 1; i <= LOGIN_REPS; i++)); do
  t=$(bench_pgbench_tps "$DB" "$W/login.sql" "$LOGIN_SECS" -D pw="$LOGIN_PW")
  login+=("$t")
  t=$(bench_pgbench_tps "$DB" "$W/crypt.sql" "$LOGIN_SECS" -D pw="$LOGIN_PW" -D hash="$LOGIN_HASH")
  crypt+=("$t")
  printf '  %d/%d per second: login %s | crypt() %s\n' \
    "$i" "$LOGIN_REPS" "$(bench_fmt "${login[-1]}")" "$(bench_fmt "${crypt[-1]}")"
done

# ----------------------------------------------------------------- results

echo
bench_report tokens/verify-x100 calls/s "${verify100[*]}" "openssl rsa2048 verify/s" "${ver[*]}" 0.60
bench_report tokens/verify calls/s "${verify[*]}" "openssl rsa2048 verify/s" "${ver[*]}" -
bench_report tokens/round-trip queries/s "${roundtrip[*]}" "openssl rsa2048 verify/s" "${ver[*]}" -
bench_report tokens/client-credentials-x10 tokens/s "${cc10[*]}" "openssl rsa2048 sign/s" "${sign[*]}" 0.85
bench_report tokens/refresh tokens/s "${refresh[*]}" "openssl rsa2048 sign/s" "${sign[*]}" -
bench_report tokens/refresh-async tokens/s "${refresh_async[*]}" "openssl rsa2048 sign/s" "${sign[*]}" -
bench_report tokens/login-cost12 logins/s "${login[*]}" "pgcrypto crypt() bf-12/s" "${crypt[*]}" -
