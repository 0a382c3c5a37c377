#!/usr/bin/env bash
# tests/integration/edge_replica.sh: read replicas at the real edge, against
# the stack's streaming hot standby (scripts/stack start standby): a STABLE
# call served by the standby and a VOLATILE one by the primary (functions
# that report pg_is_in_recovery()), the write's Warden-LSN read back
# (replay paused on the standby: that read goes to the primary while plain
# reads stay on the standby), a replica lagging past the setting skipped,
# a function that writes though declared STABLE retried on the primary,
# the standby stopped in the middle of a stream of reads (no error; the
# fallbacks counted), /readyz and /metrics (promtool) throughout, and the
# standby promoted: its outbox workers, idle as 'standby' until then,
# start delivering.
#
# The test makes a fresh standby and removes it at the end (it promotes
# it); a standby that ran before is made again afresh.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

DB=warden_it_replica
PORT=$((WARDEN_TEST_PORT_BASE + 1))
PORT_LAG=$((WARDEN_TEST_PORT_BASE + 2))
PORT_PLAIN=$((WARDEN_TEST_PORT_BASE + 3))
STACK=$WARDEN_ROOT/scripts/stack
PW='long enough password'
APP=regress_replica_app
LOGIN=regress_replica_edge
SB_PORT=${WARDEN_STACK_STANDBY_PORT:?scripts/stack env names the standby}
QUEUE=it_replica_promoted

had_standby=0
"$STACK" status 2>/dev/null | grep -q '^stack: standby running' && had_standby=1
cleanup() {
  "$STACK" start postgresql >/dev/null 2>&1
  "$STACK" reset standby >/dev/null 2>&1
  [ "$had_standby" -eq 0 ] || "$STACK" start standby >/dev/null 2>&1
}
trap cleanup EXIT

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
qs() { psql -X -q -At -v ON_ERROR_STOP=1 -p "$SB_PORT" -d "${2:-$DB}" -c "$1"; }

dropdb --if-exists "$DB" >/dev/null 2>&1
qp "DROP ROLE IF EXISTS $LOGIN" >/dev/null
qp "DROP ROLE IF EXISTS $APP" >/dev/null
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
qp "CREATE ROLE $APP NOLOGIN; CREATE ROLE $LOGIN LOGIN IN ROLE warden_auth, $APP" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
CREATE SCHEMA app;
CREATE TABLE app.items (id serial PRIMARY KEY, body text NOT NULL);
CREATE TABLE app.audit (at timestamptz DEFAULT now());
GRANT USAGE ON SCHEMA app TO $APP;
GRANT SELECT, INSERT ON app.items, app.audit TO $APP;
GRANT USAGE ON SEQUENCE app.items_id_seq TO $APP;
CREATE FUNCTION app.note() RETURNS void LANGUAGE sql VOLATILE AS 'INSERT INTO app.audit DEFAULT VALUES';
GRANT EXECUTE ON FUNCTION app.note() TO $APP;

CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO $APP;
-- where a call ran: the standby is in recovery, the primary is not
CREATE FUNCTION api.where_am_i() RETURNS text LANGUAGE sql STABLE
  AS \$\$SELECT CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END\$\$;
CREATE FUNCTION api.add_item(body text) RETURNS jsonb LANGUAGE sql VOLATILE
  AS \$\$INSERT INTO app.items (body) VALUES (body)
       RETURNING jsonb_build_object('id', id, 'ran_on',
         CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END)\$\$;
CREATE FUNCTION api.items() RETURNS jsonb LANGUAGE sql STABLE
  AS \$\$SELECT jsonb_build_object('count', count(*), 'ran_on',
         CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END) FROM app.items\$\$;
-- declared STABLE, yet writes through a VOLATILE function: a standby refuses
CREATE FUNCTION api.sneaky() RETURNS text LANGUAGE plpgsql STABLE AS \$\$
BEGIN
  PERFORM app.note();
  RETURN CASE WHEN pg_is_in_recovery() THEN 'replica' ELSE 'primary' END;
END\$\$;

SELECT warden.create_user('alice', '$PW');
SELECT warden.create_role('rpc_caller'), warden.add_permission('rpc_caller', 'rpc:execute');
SELECT warden.grant('alice', 'rpc_caller');
SQL
ALICE=$(q "SELECT access_token FROM warden.login('alice', '$PW')")

# the outbox of the standby's database "postgres" (the stack's workers serve it)
outbox_created=0
if [ "$(qp "SELECT count(*) FROM pg_extension WHERE extname = 'warden'")" = 0 ]; then
  qp "CREATE EXTENSION warden" >/dev/null
  outbox_created=1
fi

# --- a fresh standby of all that ---------------------------------------------------
"$STACK" reset standby >/dev/null 2>&1
if ! out=$("$STACK" start standby 2>&1); then
  t_fail "the stack starts a standby" "$out"
  t_done
  exit 1
fi
t_eq "the standby is in recovery" t "$(qs 'SELECT pg_is_in_recovery()' postgres)"
wait_until 10 test "$(qs "SELECT count(*) FROM pg_proc WHERE proname = 'where_am_i'" 2>/dev/null)" = 1
t_eq "the standby has the primary's functions" 1 "$(qs "SELECT count(*) FROM pg_proc WHERE proname = 'where_am_i'")"

PRIMARY_URL=postgresql://$LOGIN@127.0.0.1:$PGPORT/$DB
REPLICA_URL=postgresql://$LOGIN@127.0.0.1:$SB_PORT/$DB
COMMON=(WARDEN_DATABASE_URL="$PRIMARY_URL" WARDEN_DB_ROLE="$APP" WARDEN_RPC_CACHE_TTL_MS=600000
  WARDEN_REPLICA_PROBE_INTERVAL_MS=100 WARDEN_HEALTH_INTERVAL_MS=200
  WARDEN_RATE_LIMIT_IP=off WARDEN_RATE_LIMIT_PRINCIPAL=off)
# one edge tolerating a minute of lag (reads stay on the standby while its
# replay is paused), one tolerating one second, one without replicas
edge_start main "$PORT" "${COMMON[@]}" WARDEN_DATABASE_READ_URL="$REPLICA_URL" \
  WARDEN_REPLICA_MAX_LAG_MS=60000 || true
edge_start lag "$PORT_LAG" "${COMMON[@]}" WARDEN_DATABASE_READ_URL="$REPLICA_URL" \
  WARDEN_REPLICA_MAX_LAG_MS=1000 || true
edge_start plain "$PORT_PLAIN" "${COMMON[@]}" || true

A=(-H "Authorization: Bearer $ALICE")
JSON=(-H 'Content-Type: application/json')
get() { http GET "http://127.0.0.1:${PORT_USE:-$PORT}/v1/rpc/$1" "${A[@]}" "${@:2}"; }
post() { http POST "http://127.0.0.1:${PORT_USE:-$PORT}/v1/rpc/$1" "${A[@]}" "${JSON[@]}" --data-binary "$2" "${@:3}"; }
ready() { curl -sS --max-time 2 "http://127.0.0.1:${1:-$PORT}/readyz"; }
metrics() { curl -sS --max-time 5 "http://127.0.0.1:${1:-$PORT}/metrics"; }
metric() { metrics "${2:-$PORT}" | awk -v m="$1" '$1 == m { print $2 }'; }
replica_state() { ready "$1" | jq -r '.checks["replica-1"].status'; }
on_replica() { get where_am_i "${@}" && [ "$HTTP_BODY" = '"replica"' ]; }

ready_status() { ready "$PORT" | jq -r '.status + " " + .checks["replica-1"].status'; }
wait_until 10 test "$(ready_status)" = "ready up"
t_eq "/readyz: the replica is up, the edge ready" "200 ready up" \
  "$(curl -sS -o "$WARDEN_TEST_TMP/r.json" -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") $(jq -r '.status + " " + .checks["replica-1"].status' "$WARDEN_TEST_TMP/r.json")"

# --- routing --------------------------------------------------------------------------
get where_am_i
t_eq "GET of a STABLE function: served by the replica" '200 "replica"' "$HTTP_STATUS $HTTP_BODY"
post where_am_i '{}'
t_eq "POST of a STABLE function: the replica too" '200 "replica"' "$HTTP_STATUS $HTTP_BODY"
t_eq "a read answers without Warden-LSN" "" "$(header Warden-LSN)"
post add_item '{"body": "one"}'
t_eq "a VOLATILE call: served by the primary" "200 primary" "$HTTP_STATUS $(jq -r .ran_on <<<"$HTTP_BODY")"
LSN=$(header Warden-LSN)
t_match "a write answers with Warden-LSN, the WAL position after its commit" '^[0-9A-F]{1,8}/[0-9A-F]{1,8}$' "$LSN"
t_eq "at or before the primary's position now" t "$(q "SELECT '$LSN'::pg_lsn <= pg_current_wal_insert_lsn()")"
PORT_USE=$PORT_PLAIN post add_item '{"body": "two"}'
t_eq "without replicas a write has no Warden-LSN" "200 " "$HTTP_STATUS $(header Warden-LSN)"
PORT_USE=$PORT_PLAIN get where_am_i
t_eq "without replicas a read is the primary's" '200 "primary"' "$HTTP_STATUS $HTTP_BODY"

# under load: every read is answered on the replica pool's thread and its
# request resumed from there, many at once (under the sanitized edge, a
# worker freeing a request its resumer still reads is caught here)
cat >"$WARDEN_TEST_TMP/reads.lua" <<EOF
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer $ALICE"
EOF
out=$(wrk -t2 -c64 -d5s --timeout 10s -s "$WARDEN_TEST_TMP/reads.lua" "http://127.0.0.1:$PORT/v1/rpc/where_am_i" 2>&1)
n=$(sed -nE 's/^ *([0-9]+) requests in.*/\1/p' <<<"$out")
t_check "reads under load from 64 connections, all answered (${n:-0})" test "${n:-0}" -ge 100
t_check "... every one 200, no socket error" bash -c '! grep -Eq "Non-2xx|Socket errors" <<<"$1"' _ "$out"

# --- read your writes --------------------------------------------------------------------
bad=0
for i in $(seq 1 10); do
  post add_item "{\"body\": \"w$i\"}"
  lsn=$(header Warden-LSN)
  want=$(q "SELECT count(*) FROM app.items")
  get items -H "Warden-LSN: $lsn"
  [ "$HTTP_STATUS $(jq -r .count <<<"$HTTP_BODY")" = "200 $want" ] || bad=$((bad + 1))
done
t_eq "a read with the write's Warden-LSN sees the write, 10 of 10" 0 "$bad"
post add_item '{"body": "settled"}'
LSN=$(header Warden-LSN)
t_check "once the replica has replayed it, such a read is the replica's" \
  wait_until 10 on_replica -H "Warden-LSN: $LSN"

get where_am_i -H 'Warden-LSN: 0/12/34'
t_eq "a malformed Warden-LSN: 400" "400 bad_request" "$HTTP_STATUS $(jq -r .error <<<"$HTTP_BODY")"
get where_am_i -H 'Warden-LSN: 0/0'
t_eq "Warden-LSN 0/0 asks nothing" '200 "replica"' "$HTTP_STATUS $HTTP_BODY"

# replay paused: the standby answers, but is behind the next write
qs "SELECT pg_wal_replay_pause()" postgres >/dev/null
wait_until 5 test "$(qs 'SELECT pg_get_wal_replay_pause_state()' postgres)" = paused
lsn_before=$(metric 'warden_edge_db_read_fallbacks_total{reason="lsn"}')
post add_item '{"body": "while paused"}'
LSN=$(header Warden-LSN)
want=$(q "SELECT count(*) FROM app.items")
get items -H "Warden-LSN: $LSN"
t_eq "replay paused: the read with the write's LSN sees it, from the primary" "200 $want primary" \
  "$HTTP_STATUS $(jq -r '"\(.count) \(.ran_on)"' <<<"$HTTP_BODY")"
t_eq "the standby has not replayed it" "$((want - 1))" "$(qs 'SELECT count(*) FROM app.items')"
get items
t_eq "a plain read still goes to the standby (within the lag allowed)" "200 $((want - 1)) replica" \
  "$HTTP_STATUS $(jq -r '"\(.count) \(.ran_on)"' <<<"$HTTP_BODY")"
t_eq "the LSN fallback is counted" "$((lsn_before + 1))" \
  "$(metric 'warden_edge_db_read_fallbacks_total{reason="lsn"}')"

# --- lag ------------------------------------------------------------------------------------
lagging() {
  local lag
  lag=$(metric 'warden_edge_replica_lag_seconds{replica="replica-1"}' "$PORT_LAG")
  [ -n "$lag" ] && awk -v l="$lag" 'BEGIN { exit !(l > 1.0) }'
}
t_check "the lag grows past a second while replay is paused" wait_until 15 lagging
PORT_USE=$PORT_LAG get where_am_i
t_eq "a replica lagging past WARDEN_REPLICA_MAX_LAG_MS is skipped" '200 "primary"' "$HTTP_STATUS $HTTP_BODY"
t_match "counted as a lag fallback" '^[1-9][0-9]*$' \
  "$(metric 'warden_edge_db_read_fallbacks_total{reason="lag"}' "$PORT_LAG")"
t_eq "/readyz: 200 degraded, the replica lagging" "200 degraded lagging replica-1" \
  "$(curl -sS -o "$WARDEN_TEST_TMP/r.json" -w '%{http_code}' "http://127.0.0.1:$PORT_LAG/readyz") $(jq -r '.status + " " + .checks["replica-1"].status + " " + (.down | join(","))' "$WARDEN_TEST_TMP/r.json")"
get where_am_i
t_eq "the edge allowing a minute still reads from it" '200 "replica"' "$HTTP_STATUS $HTTP_BODY"
qs "SELECT pg_wal_replay_resume()" postgres >/dev/null
lag_edge_on_replica() { PORT_USE=$PORT_LAG on_replica; }
t_check "replay resumed: the replica serves again once caught up" wait_until 10 lag_edge_on_replica

# --- a function that writes though declared STABLE ----------------------------------------
err_before=$(metric 'warden_edge_db_read_fallbacks_total{reason="error"}')
post sneaky '{}'
t_eq "a STABLE function that writes: the standby refuses, the primary runs it" '200 "primary"' \
  "$HTTP_STATUS $HTTP_BODY"
t_eq "its write is there" 1 "$(q 'SELECT count(*) FROM app.audit')"
get sneaky
t_eq "by GET it is refused as without replicas (read-only on the primary too)" "405 POST" \
  "$HTTP_STATUS $(header Allow)"
t_eq "both counted as error fallbacks" "$((err_before + 2))" \
  "$(metric 'warden_edge_db_read_fallbacks_total{reason="error"}')"

# --- metrics ----------------------------------------------------------------------------------
metrics >"$WARDEN_TEST_TMP/metrics.txt"
t_check "promtool check metrics accepts the replica metrics" \
  sh -c "promtool check metrics <'$WARDEN_TEST_TMP/metrics.txt'"
t_match "reads served by the replica are counted" '^[1-9][0-9]*$' \
  "$(metric 'warden_edge_db_reads_total{pool="replica-1"}')"
t_match "and those the primary served" '^[1-9][0-9]*$' \
  "$(metric 'warden_edge_db_reads_total{pool="primary"}')"
t_eq "the replica is up" 1 "$(metric 'warden_edge_replica_up{replica="replica-1"}')"
t_match "its lag is shown, in seconds" '^[0-9]+(\.[0-9]+)?$' \
  "$(metric 'warden_edge_replica_lag_seconds{replica="replica-1"}')"

# --- the standby stopped in the middle of a stream of reads -----------------------------------
down_before=$(($(metric 'warden_edge_db_read_fallbacks_total{reason="down"}') + \
  $(metric 'warden_edge_db_read_fallbacks_total{reason="unavailable"}') + \
  $(metric 'warden_edge_db_read_fallbacks_total{reason="error"}')))
(
  for i in $(seq 1 150); do
    curl -sS -o /dev/null -w '%{http_code}\n' --max-time 10 "${A[@]}" \
      "http://127.0.0.1:$PORT/v1/rpc/where_am_i"
  done
) >"$WARDEN_TEST_TMP/stream.txt" 2>&1 &
stream=$!
sleep 0.5
"$STACK" stop standby >/dev/null
wait "$stream"
t_eq "the standby stopped mid-stream: 150 reads, every one 200" "150 150" \
  "$(wc -l <"$WARDEN_TEST_TMP/stream.txt") $(grep -c '^200$' "$WARDEN_TEST_TMP/stream.txt")"
get where_am_i
t_eq "reads go to the primary" '200 "primary"' "$HTTP_STATUS $HTTP_BODY"
down_after=$(($(metric 'warden_edge_db_read_fallbacks_total{reason="down"}') + \
  $(metric 'warden_edge_db_read_fallbacks_total{reason="unavailable"}') + \
  $(metric 'warden_edge_db_read_fallbacks_total{reason="error"}')))
t_check "the fallbacks are counted" test "$down_after" -gt "$down_before"
wait_until 5 test "$(replica_state "$PORT")" = down
t_eq "/readyz: 200 degraded, the replica down" "200 degraded down replica-1" \
  "$(curl -sS -o "$WARDEN_TEST_TMP/r.json" -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") $(jq -r '.status + " " + .checks["replica-1"].status + " " + (.down | join(","))' "$WARDEN_TEST_TMP/r.json")"
t_eq "/metrics: the replica is down" 0 "$(metric 'warden_edge_replica_up{replica="replica-1"}')"
metrics >"$WARDEN_TEST_TMP/metrics.txt"
t_check "promtool still accepts the metrics" sh -c "promtool check metrics <'$WARDEN_TEST_TMP/metrics.txt'"
post add_item '{"body": "replica down"}'
t_eq "writes go on" "200 primary" "$HTTP_STATUS $(jq -r .ran_on <<<"$HTTP_BODY")"
"$STACK" start standby >/dev/null
t_check "the standby back: reads go to it again" wait_until 15 on_replica

# --- promoted ------------------------------------------------------------------------------------
t_eq "on the standby the outbox workers wait as 'standby', no process" "standby standby 0" \
  "$(qs "SELECT string_agg(state, ' ' ORDER BY worker) || ' ' || count(pid) FROM warden.outbox_workers()" postgres)"
t_eq "no worker of the standby tried the broker" 0 \
  "$(grep -c 'warden outbox worker' "$("$STACK" logs standby)" 2>/dev/null; true)"
ob_queue "$QUEUE" "amq.topic:replica.promoted" >/dev/null
"$STACK" promote standby >/dev/null
t_eq "promoted: no longer in recovery" f "$(qs 'SELECT pg_is_in_recovery()' postgres)"
promoted_connected() {
  [ "$(qs "SELECT count(*) FILTER (WHERE connected) FROM warden.outbox_workers()" postgres)" = 2 ]
}
t_check "its outbox workers start and connect to the broker" wait_until 30 promoted_connected
ID=$(qs "SELECT warden.publish('amq.topic', 'replica.promoted', '{\"from\": \"promoted\"}')" postgres)
ob_consume "$QUEUE" 1 10000 >"$WARDEN_TEST_TMP/promoted.jsonl"
t_eq "a message published there is delivered by them" "$ID" \
  "$(jq -r .message_id "$WARDEN_TEST_TMP/promoted.jsonl" 2>/dev/null | head -n 1)"
t_check "and marked delivered" wait_until 10 test \
  "$(qs "SELECT state FROM warden.outbox WHERE message_id = '$ID'" postgres)" = delivered
wait_until 5 test "$(replica_state "$PORT")" = not_standby
t_eq "the edge stops reading from a promoted replica" "not_standby primary" \
  "$(replica_state "$PORT") $(get where_am_i; jq -r . <<<"$HTTP_BODY")"
ob_delete_queue "$QUEUE"

for e in main lag plain; do
  edge_stop "$e"
  t_eq "edge $e stops cleanly" 0 "$EDGE_STATUS"
done
[ "$outbox_created" -eq 0 ] || qp "DROP EXTENSION IF EXISTS warden CASCADE" >/dev/null 2>&1
dropdb --if-exists "$DB" >/dev/null 2>&1
t_done
