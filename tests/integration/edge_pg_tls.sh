#!/usr/bin/env bash
# tests/integration/edge_pg_tls.sh: the edge to PostgreSQL over TLS with
# sslmode=verify-full and sslrootcert in WARDEN_DATABASE_URL (the stack's
# TLS mode). With the stack's CA every connection the edge makes (the
# pool, the policy stream, the health prober) is TLS 1.3, seen from the
# server in pg_stat_ssl, while the edge serves tokens, /v1/authz, /v1/rpc
# and /metrics. With another CA, with the server presenting a certificate
# for another host name or one from another CA, or with the URL naming the
# server by address, the edge connects to nothing, says so in /readyz and
# in its log, and never logs the URL's password; once the server presents
# the right certificate again, the same edge becomes ready.
. "$WARDEN_ROOT/tests/lib.sh"

if [ "${WARDEN_STACK_TLS:-0}" != 1 ]; then
  t_fail "the stack runs in TLS mode" "start it with WARDEN_STACK_TLS=1 (scripts/test does)"
  t_done
  exit 1
fi

DB=warden_it_pg_tls
PORT=$((WARDEN_TEST_PORT_BASE + 1))
BAD_PORT=$((WARDEN_TEST_PORT_BASE + 2))
PW='long enough password'
LOGIN=regress_tls_edge
APP=regress_tls_app
SECRET=Db-pw-9f3c1e77
CA=$WARDEN_STACK_CA_FILE
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# url HOST CA [SSLMODE]: the edge's database URL, with a password the
# stack's trust authentication ignores but a log line could leak
url() {
  echo "postgresql://$LOGIN:$SECRET@$1:$PGPORT/$DB?hostaddr=127.0.0.1&sslmode=${3:-verify-full}&sslrootcert=$2"
}
# present NAME: the certificate the server presents from now on (a reload:
# established connections keep theirs), from the stack's TLS directory
present() {
  qp "ALTER SYSTEM SET ssl_cert_file = '$WARDEN_STACK_PG_TLS_DIR/$1.crt'"
  qp "ALTER SYSTEM SET ssl_key_file = '$WARDEN_STACK_PG_TLS_DIR/$1.key'"
  qp "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5
}
restore() {
  qp "ALTER SYSTEM RESET ssl_cert_file" 2>/dev/null
  qp "ALTER SYSTEM RESET ssl_key_file" 2>/dev/null
  qp "SELECT pg_reload_conf()" >/dev/null 2>&1
}
trap restore EXIT
readyz() { curl -s --max-time 5 "http://127.0.0.1:$1/readyz"; }
pg_down() { readyz "$1" | jq -e '.down | index("postgresql")' >/dev/null; }
pg_up() { readyz "$1" | jq -e '.checks.postgresql.status == "up"' >/dev/null; }

dropdb --if-exists "$DB" >/dev/null 2>&1
qp "DROP ROLE IF EXISTS $LOGIN" >/dev/null
qp "DROP ROLE IF EXISTS $APP" >/dev/null
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
qp "CREATE ROLE $APP NOLOGIN; CREATE ROLE $LOGIN LOGIN PASSWORD '$SECRET' IN ROLE warden_auth, $APP" >/dev/null
q "CREATE SCHEMA api; GRANT USAGE ON SCHEMA api TO $APP;
   -- SECURITY DEFINER: as WARDEN_DB_ROLE the session's own row is hidden
   CREATE FUNCTION api.tls() RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
     AS \$\$SELECT jsonb_build_object('ssl', ssl, 'version', version) FROM pg_stat_ssl WHERE pid = pg_backend_pid()\$\$;
   GRANT EXECUTE ON FUNCTION api.tls() TO $APP" >/dev/null
q "SELECT warden.create_user('alice', '$PW'), warden.create_role('reader'),
          warden.add_permission('reader', 'document:read'), warden.add_permission('reader', 'rpc:execute'),
          warden.grant('alice', 'reader'),
          warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{id}')" >/dev/null

t_eq "the server speaks TLS (the stack's TLS mode)" on "$(q 'SHOW ssl')"
t_eq "psql with verify-full and the stack's CA: TLS 1.3" "true TLSv1.3" \
  "$(psql -X -At -d "$WARDEN_STACK_DATABASE_TLS_URL" -c "SELECT ssl || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")"

# --- the right CA -----------------------------------------------------------

# two workers, each opening its share of the pool as its calls need it:
# after the certificate change below, a call that lands on a worker with no
# connection of its own goes to the other's (edge/dbpool.c)
edge_start good "$PORT" "WARDEN_DATABASE_URL=$(url localhost "$CA")" WARDEN_DB_ROLE=$APP \
  WARDEN_THREADS=2 WARDEN_HEALTH_INTERVAL_MS=200 || true
t_check "with verify-full and the stack's CA the edge is ready" \
  wait_until 10 sh -c "curl -fs 'http://127.0.0.1:$PORT/readyz' | jq -e '.status == \"ready\"'"

http POST "http://127.0.0.1:$PORT/v1/auth/token" -d grant_type=password -d username=alice \
  --data-urlencode "password=$PW"
t_eq "a token from the token endpoint" 200 "$HTTP_STATUS"
token=$(jq -r .access_token <<<"$HTTP_BODY")
http GET "http://127.0.0.1:$PORT/v1/authz" -H "Authorization: Bearer $token" -H 'X-Original-URI: /documents/1'
t_eq "a decision from the database (/v1/authz)" 200 "$HTTP_STATUS"
http GET "http://127.0.0.1:$PORT/v1/rpc/tls" -H "Authorization: Bearer $token"
t_eq "/v1/rpc runs on a connection that is TLS 1.3" '200 {"ssl": true, "version": "TLSv1.3"}' "$HTTP_STATUS $HTTP_BODY"
http GET "http://127.0.0.1:$PORT/metrics"
t_match "/metrics reads the outbox through it" 'warden_outbox_up 1' "$HTTP_BODY"

conns() { # what the server sees of the edge's connections: "pool|other ssl version count"
  qp "SELECT kind || ' ' || ssl || ' ' || coalesce(version, '-') || ' ' || count(*)
        FROM (SELECT CASE WHEN a.application_name LIKE 'warden-edge %' THEN 'pool' ELSE 'other' END AS kind,
                     s.ssl, s.version
                FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
               WHERE a.usename = '$LOGIN') c
       GROUP BY kind, ssl, version ORDER BY kind"
}
seen=$(conns)
t_eq "every connection of the edge is TLS 1.3" "" "$(grep -v ' true TLSv1.3 ' <<<"$seen" || true)"
t_match "the pool's" '^pool true TLSv1\.3 [1-9]' "$seen"
t_match "and the policy stream's and the prober's" '^other true TLSv1\.3 ([2-9]|[1-9][0-9])' "$seen"

# --- verification refuses ---------------------------------------------------

# bad NAME URL WHY: an edge that must connect to nothing
bad() {
  local name=$1 u=$2 why=$3 log=$WARDEN_TEST_TMP/$1.log
  edge_start "$name" "$BAD_PORT" "WARDEN_DATABASE_URL=$u" WARDEN_HEALTH_INTERVAL_MS=200 || true
  t_check "$name: /readyz names postgresql as down" wait_until 10 pg_down "$BAD_PORT"
  t_eq "$name: not ready" "" "$(readyz "$BAD_PORT" | jq -r 'select(.status == "ready")')"
  t_match "$name: the log says why" "\"dependency down\".*\"dependency\":\"postgresql\".*$why" "$(cat "$log")"
  t_eq "$name: the edge still answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BAD_PORT/healthz")"
  edge_stop "$name"
}

bad other-ca "$(url localhost "$WARDEN_STACK_OTHER_CA_FILE")" 'certificate verify failed'
bad by-address "$(url 127.0.0.1 "$CA")" 'does not match host name \\"127.0.0.1\\"'

present otherhost
t_check "the server now presents a certificate for otherhost.invalid (from the stack's CA)" \
  sh -c "openssl s_client -starttls postgres -connect 127.0.0.1:$PGPORT -CAfile '$CA' </dev/null 2>/dev/null | grep -q 'CN *= *otherhost.invalid'"
t_check "verify-ca still takes it: only the host name is wrong" \
  psql -X -At -d "$(url localhost "$CA" verify-ca)" -c 'SELECT 1'
bad other-host "$(url localhost "$CA")" 'does not match host name \\"localhost\\"'

present other-ca-localhost
bad impostor "$(url localhost "$CA")" 'certificate verify failed'

# the same edge recovers once the right certificate is back
edge_start recover "$BAD_PORT" "WARDEN_DATABASE_URL=$(url localhost "$CA")" WARDEN_HEALTH_INTERVAL_MS=200 || true
t_check "an edge facing a certificate from another CA: postgresql down" wait_until 10 pg_down "$BAD_PORT"
t_eq "the edge started first keeps its verified connections" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/rpc/tls" -H "Authorization: Bearer $token")"
restore
t_check "the right certificate again: the same edge connects" wait_until 10 pg_up "$BAD_PORT"
edge_stop recover

t_check "no log line holds the URL's password" sh -c "! grep -l -- '$SECRET' '$WARDEN_TEST_TMP'/*.log"

edge_stop good
t_eq "it drains and exits 0" 0 "$EDGE_STATUS"
trap - EXIT
restore
dropdb --if-exists "$DB" >/dev/null 2>&1
qp "DROP ROLE IF EXISTS $LOGIN; DROP ROLE IF EXISTS $APP" >/dev/null
t_done
