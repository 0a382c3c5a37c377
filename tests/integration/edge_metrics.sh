#!/usr/bin/env bash
# tests/integration/edge_metrics.sh: GET /metrics on the real edge, checked
# by promtool (Prometheus's own linter): request counters by route and code,
# latency histograms, the pool, the outbox backlog from
# warden.outbox_stats(), and a scrape that still works with PostgreSQL down.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_metrics
PORT=$((WARDEN_TEST_PORT_BASE + 5))
URL=http://127.0.0.1:$PORT
STACK=$WARDEN_ROOT/scripts/stack
trap '"$STACK" start postgresql >/dev/null 2>&1' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
# three committed messages no worker serves here: a backlog of 3
q "SELECT warden.publish('amq.topic', 'it.metrics', jsonb_build_object('i', i)) FROM generate_series(1, 3) AS i" >/dev/null

edge_start metrics "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" \
  WARDEN_DB_TIMEOUT_MS=1000 || true
before=$(curl -s "$URL/metrics" | awk '$1 == "warden_edge_requests_total{route=\"/healthz\",code=\"200\"}" { print $2 }')
for i in 1 2 3; do curl -s -o /dev/null "$URL/healthz"; done
curl -s -o /dev/null "$URL/no/such/path"
curl -s -o /dev/null "$URL/v1/auth/token" -d grant_type=password -d username=x -d password=y

http GET "$URL/metrics"
t_eq "200" 200 "$HTTP_STATUS"
t_eq "the Prometheus text format" "text/plain; version=0.0.4; charset=utf-8" "$(header Content-Type)"
printf '%s\n' "$HTTP_BODY" >"$WARDEN_TEST_TMP/metrics.txt"
t_check "promtool check metrics accepts it" sh -c "promtool check metrics <'$WARDEN_TEST_TMP/metrics.txt'"
m() { awk -v k="$1" '$1 == k { print $2 }' "$WARDEN_TEST_TMP/metrics.txt"; }
t_eq "requests counted by route and code" $((${before:-0} + 3)) "$(m 'warden_edge_requests_total{route="/healthz",code="200"}')"
t_eq "unknown paths under one label, never their path" 1 "$(m 'warden_edge_requests_total{route="unmatched",code="404"}')"
t_eq "token errors by code" 1 "$(m 'warden_edge_requests_total{route="/v1/auth/token",code="400"}')"
t_eq "a histogram per route: +Inf bucket = count" "$(m 'warden_edge_request_duration_seconds_count{route="/healthz"}')" \
  "$(m 'warden_edge_request_duration_seconds_bucket{route="/healthz",le="+Inf"}')"
t_eq "the outbox backlog" 3 "$(m warden_outbox_pending)"
t_eq "read from the database" 1 "$(m warden_outbox_up)"
t_eq "the build" 1 "$(m "warden_edge_build_info{version=\"$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$WARDEN_ROOT/control/warden.control")\"}")"
t_check "no path or query string leaks into a label" sh -c "! grep -q 'no/such' '$WARDEN_TEST_TMP/metrics.txt'"

"$STACK" stop postgresql >/dev/null
http GET "$URL/metrics"
t_eq "PostgreSQL down: the scrape still works" 200 "$HTTP_STATUS"
printf '%s\n' "$HTTP_BODY" >"$WARDEN_TEST_TMP/metrics.txt"
t_eq "and says the outbox figures are missing" 0 "$(m warden_outbox_up)"
t_check "still valid for promtool" sh -c "promtool check metrics <'$WARDEN_TEST_TMP/metrics.txt'"
t_check "and counts the unavailable statement" test "$(m warden_edge_db_unavailable_total)" -ge 1
"$STACK" start postgresql >/dev/null
edge_stop metrics
dropdb "$DB"
t_done
