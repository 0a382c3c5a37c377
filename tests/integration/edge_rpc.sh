#!/usr/bin/env bash
# tests/integration/edge_rpc.sh: /v1/rpc/{function} on the real edge: calls
# into the API schema as WARDEN_DB_ROLE with the caller's identity, Row
# Level Security through the edge (two users, each seeing only their
# rows), rpc:execute grants (per function, everywhere, by wildcard
# permission, on the group function:*, with a deny, narrowed by API-key
# scopes), every result shape, errors by SQLSTATE with PII masked, hostile
# input (bad JSON, traversal, odd names, functions outside the schema,
# oversized bodies, injection), a stale catalog cache, and PostgreSQL
# stopped (503 at once).
#
# The edge logs in as a dedicated role that is only a member of
# warden_auth and of the application's role: the set-up README.md
# recommends, since code running as the application's role could RESET
# ROLE back to the login role.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_rpc
PORT=$((WARDEN_TEST_PORT_BASE + 8))
URL=http://127.0.0.1:$PORT/v1/rpc
STACK=$WARDEN_ROOT/scripts/stack
PW='long enough password'
APP=regress_rpc_app
LOGIN=regress_rpc_edge
trap '"$STACK" start postgresql >/dev/null 2>&1; kill -CONT "$(cat "$WARDEN_STACK_DIR/redis/redis.pid" 2>/dev/null)" 2>/dev/null' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# rate-limit buckets of an earlier run must not count here
rl_clear() {
  redis-cli -p "${WARDEN_REDIS_URL##*:}" --scan --pattern 'warden:rl:*' |
    xargs -r redis-cli -p "${WARDEN_REDIS_URL##*:}" del >/dev/null
}
rl_clear
dropdb --if-exists "$DB" >/dev/null 2>&1
qp "DROP ROLE IF EXISTS $LOGIN" >/dev/null
qp "DROP ROLE IF EXISTS $APP" >/dev/null
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "ALTER DATABASE $DB SET warden.password_cost = 4" >/dev/null
# PostgreSQL's log hook masks error messages for the client too; off here,
# so what reaches the client unmasked shows the edge's own masking
q "ALTER DATABASE $DB SET warden.mask_logs = off" >/dev/null
qp "CREATE ROLE $APP NOLOGIN; CREATE ROLE $LOGIN LOGIN IN ROLE warden_auth, $APP" >/dev/null

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
CREATE SCHEMA app;
CREATE TABLE app.notes (
  id serial PRIMARY KEY,
  owner text NOT NULL DEFAULT warden.current_principal(),
  body text NOT NULL CHECK (length(body) <= 100));
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON app.notes
  USING (owner = current_setting('warden.principal', true))
  WITH CHECK (owner = warden.current_principal());
CREATE TABLE app.tags (tag text PRIMARY KEY);
GRANT USAGE ON SCHEMA app TO $APP;
GRANT SELECT, INSERT ON app.notes, app.tags TO $APP;
GRANT USAGE ON SEQUENCE app.notes_id_seq TO $APP;

CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO $APP;
CREATE FUNCTION api.add(a int, b int DEFAULT 1) RETURNS int
  LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION api.pair(x text, OUT len int, OUT upper text)
  LANGUAGE sql STABLE AS 'SELECT length(x), upper(x)';
CREATE FUNCTION api.squares(n int) RETURNS TABLE (i int, sq bigint)
  LANGUAGE sql STABLE AS 'SELECT g, g * g FROM generate_series(1, n) g';
CREATE FUNCTION api.nothing() RETURNS void LANGUAGE sql VOLATILE AS '';
CREATE FUNCTION api.maybe(x text DEFAULT NULL) RETURNS text
  LANGUAGE sql IMMUTABLE AS 'SELECT x';
CREATE FUNCTION api.total(VARIADIC xs numeric[]) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS 'SELECT sum(x) FROM unnest(xs) x';
CREATE FUNCTION api.echo(doc jsonb, tags text[] DEFAULT '{}', docs json[] DEFAULT '{}') RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS \$\$SELECT jsonb_build_object('doc', doc, 'tags', to_jsonb(tags), 'docs', to_jsonb(docs))\$\$;
CREATE FUNCTION api.whoami() RETURNS jsonb LANGUAGE sql STABLE
  AS \$\$SELECT jsonb_build_object('principal', warden.current_principal(), 'role', current_user,
                                   'sub', warden.current_claims()->>'sub',
                                   'app', current_setting('application_name'))\$\$;
CREATE FUNCTION public.whoami() RETURNS jsonb LANGUAGE sql STABLE AS \$\$SELECT '"the wrong one"'::jsonb\$\$;
CREATE FUNCTION api.notes() RETURNS SETOF app.notes
  LANGUAGE sql STABLE AS 'SELECT * FROM app.notes ORDER BY id';
CREATE FUNCTION api.add_note(body text) RETURNS app.notes
  LANGUAGE sql VOLATILE AS 'INSERT INTO app.notes (body) VALUES (body) RETURNING *';
CREATE FUNCTION api.add_note_as(owner text, body text) RETURNS app.notes
  LANGUAGE sql VOLATILE AS 'INSERT INTO app.notes (owner, body) VALUES (owner, body) RETURNING *';
CREATE FUNCTION api.add_tag(tag text) RETURNS void
  LANGUAGE sql VOLATILE AS 'INSERT INTO app.tags VALUES (tag)';
CREATE FUNCTION api.account(email text) RETURNS int LANGUAGE plpgsql STABLE AS \$\$
BEGIN
  RAISE EXCEPTION 'no account for %', email USING HINT = 'ask ' || email, DETAIL = 'row: ' || email;
END\$\$;
CREATE FUNCTION api.too_slow() RETURNS int LANGUAGE plpgsql STABLE AS \$\$
BEGIN RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = 'query_canceled'; END\$\$;
CREATE FUNCTION api.broken() RETURNS int LANGUAGE plpgsql STABLE AS \$\$
BEGIN RETURN (SELECT count(*) FROM app.no_such_table); END\$\$;
CREATE FUNCTION api.private() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
REVOKE EXECUTE ON FUNCTION api.private() FROM PUBLIC;
CREATE FUNCTION api.pick(a int) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$SELECT 'one'\$\$;
CREATE FUNCTION api.pick(a int, b int) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$SELECT 'two'\$\$;
CREATE FUNCTION api.twin(a int) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$SELECT 'int'\$\$;
CREATE FUNCTION api.twin(a text) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$SELECT 'text'\$\$;
CREATE FUNCTION api.flip() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE FUNCTION api.poly(x anyelement) RETURNS anyelement LANGUAGE sql IMMUTABLE AS 'SELECT x';
CREATE PROCEDURE api.proc() LANGUAGE sql AS 'SELECT 1';

SELECT warden.create_user(u, '$PW') FROM unnest('{alice,bob,carol,dave,erin,frank}'::text[]) u;
SELECT warden.create_service_account('svc');
SELECT warden.create_role('rpc_caller'), warden.add_permission('rpc_caller', 'rpc:execute');
SELECT warden.create_role('rpc_all'), warden.add_permission('rpc_all', 'rpc:*');
-- alice, bob and svc: every function (scope *); carol: api.add only;
-- dave: nothing; erin: a wildcard permission, and a deny on api.account;
-- frank: the group function:*, which pair and squares are placed in
SELECT warden.grant('alice', 'rpc_caller'), warden.grant('bob', 'rpc_caller'), warden.grant('svc', 'rpc_caller'),
       warden.grant('carol', 'rpc_caller', 'function:add'), warden.grant('erin', 'rpc_all'),
       warden.deny('erin', 'rpc:execute', 'function:account'),
       warden.grant('frank', 'rpc_caller', 'function:*'),
       warden.set_parent('function:pair', 'function:*'), warden.set_parent('function:squares', 'function:*');
SQL
token() { q "SELECT access_token FROM warden.login('$1', '$PW')"; }
ALICE=$(token alice)
BOB=$(token bob)
CAROL=$(token carol)
DAVE=$(token dave)
ERIN=$(token erin)
FRANK=$(token frank)
KEY=$(q "SELECT warden.create_api_key('svc', '{rpc:execute}')")
NARROW=$(q "SELECT warden.create_api_key('svc', '{document:read}')")

EDGE_DB="WARDEN_DATABASE_URL=postgresql://$LOGIN@127.0.0.1:$PGPORT/$DB"
edge_start rpc "$PORT" "$EDGE_DB" WARDEN_DB_ROLE=$APP WARDEN_RPC_CACHE_TTL_MS=600000 || true

A=(-H "Authorization: Bearer $ALICE")
JSON=(-H 'Content-Type: application/json')
get() { http GET "$URL/$1" "${A[@]}" "${@:2}"; }
post() { http POST "$URL/$1" "${A[@]}" "${JSON[@]}" --data-binary "$2" "${@:3}"; }
err() { jq -r .error <<<"$HTTP_BODY" 2>/dev/null; }

# --- results -------------------------------------------------------------------
get 'add?a=41'
t_eq "GET of an IMMUTABLE function: a scalar" "200 42" "$HTTP_STATUS $HTTP_BODY"
t_eq "as application/json" application/json "$(header Content-Type)"
post add '{"a": 40, "b": 2}'
t_eq "POST with a JSON object of named arguments" "200 42" "$HTTP_STATUS $HTTP_BODY"
get 'pair?x=abc'
t_eq "OUT arguments: an object" '200 {"len":3,"upper":"ABC"}' "$HTTP_STATUS $HTTP_BODY"
get 'squares?n=3'
t_eq "a set: an array of rows, in order" '200 [{"i":1,"sq":1},{"i":2,"sq":4},{"i":3,"sq":9}]' "$HTTP_STATUS $HTTP_BODY"
get 'squares?n=0'
t_eq "an empty set: []" "200 []" "$HTTP_STATUS $HTTP_BODY"
post nothing ''
t_eq "void: 204 without a body" "204 " "$HTTP_STATUS $HTTP_BODY"
get maybe
t_eq "a NULL result: null" "200 null" "$HTTP_STATUS $HTTP_BODY"
post maybe '{"x": null}'
t_eq "JSON null is SQL NULL" "200 null" "$HTTP_STATUS $HTTP_BODY"
post total '{"xs": [0.1, 0.2, 123456789012345678901234567890.000000000000000000001]}'
t_eq "numbers keep every digit (numeric, VARIADIC)" "200 123456789012345678901234567890.300000000000000000001" \
  "$HTTP_STATUS $HTTP_BODY"
post echo '{"doc": {"k": [1, "two", null]}, "tags": ["a b", "q\"uote", "back\\slash", "NULL", null], "docs": [{"x": 1}, "s"]}'
t_eq "json, text[] and json[] arguments" \
  '200 {"doc": {"k": [1, "two", null]}, "docs": [{"x": 1}, "s"], "tags": ["a b", "q\"uote", "back\\slash", "NULL", null]}' \
  "$HTTP_STATUS $HTTP_BODY"
get 'echo?doc=%7B%22k%22%3A1%7D&tags=%7Bx%2Cy%7D'
t_eq "GET: query values are the types' text input" '200 {"doc": {"k": 1}, "docs": [], "tags": ["x", "y"]}' \
  "$HTTP_STATUS $HTTP_BODY"
get whoami -H 'X-Request-Id: rpc-call-0001'
t_eq "the function runs as WARDEN_DB_ROLE with the caller's identity" \
  "{\"principal\":\"alice\",\"role\":\"$APP\",\"sub\":\"alice\"}" "$(jq -S -c 'del(.app)' <<<"$HTTP_BODY")"
t_eq "and the request id in application_name, for the server's log" "warden-edge rpc-call-0001" \
  "$(jq -r .app <<<"$HTTP_BODY")"
post pick '{"a": 1}'
t_eq "overloads: the arguments pick the function (one)" "200 \"one\"" "$HTTP_STATUS $HTTP_BODY"
post pick '{"a": 1, "b": 2}'
t_eq "overloads: the arguments pick the function (two)" "200 \"two\"" "$HTTP_STATUS $HTTP_BODY"
post twin '{"a": 1}'
t_eq "overloads the arguments cannot tell apart: 400" "400 bad_request" "$HTTP_STATUS $(err)"
http HEAD "$URL/add?a=1" "${A[@]}"
t_eq "HEAD is a GET without the body" 200 "$HTTP_STATUS"

# --- Row Level Security through the edge ------------------------------------------
post add_note '{"body": "alice writes"}'
t_eq "alice adds a note: the row comes back" '200 alice' "$HTTP_STATUS $(jq -r .owner <<<"$HTTP_BODY")"
http POST "$URL/add_note" -H "Authorization: Bearer $BOB" "${JSON[@]}" -d '{"body": "bob writes"}'
t_eq "bob adds a note" '200 bob' "$HTTP_STATUS $(jq -r .owner <<<"$HTTP_BODY")"
get notes
t_eq "alice sees only her rows" '200 alice writes' "$HTTP_STATUS $(jq -r 'map(.body) | join(",")' <<<"$HTTP_BODY")"
http GET "$URL/notes" -H "Authorization: Bearer $BOB"
t_eq "bob sees only his" '200 bob writes' "$HTTP_STATUS $(jq -r 'map(.body) | join(",")' <<<"$HTTP_BODY")"
t_eq "both rows are there" 2 "$(q 'SELECT count(*) FROM app.notes')"
post add_note_as '{"owner": "bob", "body": "forged"}'
t_eq "alice cannot write a row as bob (WITH CHECK): 403" "403 forbidden 42501" \
  "$HTTP_STATUS $(err) $(jq -r .sqlstate <<<"$HTTP_BODY")"
t_eq "and nothing was written" 2 "$(q 'SELECT count(*) FROM app.notes')"
get add_note_as '-G' --data-urlencode 'owner=alice' --data-urlencode 'body=x'
t_eq "a VOLATILE function by GET: 405" "405 POST" "$HTTP_STATUS $(header Allow)"

# --- who may call ------------------------------------------------------------------
http GET "$URL/add?a=1"
t_eq "no credential: 401" "401 Bearer realm=\"warden\"" "$HTTP_STATUS $(header WWW-Authenticate)"
http GET "$URL/add?a=1" -H "Authorization: Bearer ${ALICE}x"
t_eq "a forged token: 401 invalid_token" '401 Bearer realm="warden", error="invalid_token"' \
  "$HTTP_STATUS $(header WWW-Authenticate)"
http GET "$URL/add?a=1" -H "Authorization: Bearer not-a-jwt"
t_eq "a malformed token: 401" 401 "$HTTP_STATUS"
http POST "$URL/add" -d '{not json'
t_eq "no credential is refused before the body is read" 401 "$HTTP_STATUS"
http GET "$URL/add?a=1" -H "Authorization: Bearer $CAROL"
t_eq "a grant on function:add only: add is allowed" "200 2" "$HTTP_STATUS $HTTP_BODY"
http GET "$URL/pair?x=a" -H "Authorization: Bearer $CAROL"
t_eq "and pair is not: 403" "403 forbidden" "$HTTP_STATUS $(err)"
http GET "$URL/add?a=1" -H "Authorization: Bearer $DAVE"
t_eq "no grant: 403" 403 "$HTTP_STATUS"
http GET "$URL/no_such_function" -H "Authorization: Bearer $DAVE"
t_eq "no grant: 403 also for a function that does not exist (nothing learnt)" 403 "$HTTP_STATUS"
http GET "$URL/add?a=1" -H "Authorization: Bearer $ERIN"
t_eq "a wildcard permission (rpc:*) everywhere: 200" 200 "$HTTP_STATUS"
http GET "$URL/account?email=x" -H "Authorization: Bearer $ERIN"
t_eq "an explicit deny beats it: 403" 403 "$HTTP_STATUS"
http GET "$URL/pair?x=a" -H "Authorization: Bearer $FRANK"
t_eq "a grant on function:* covers the functions placed in it" 200 "$HTTP_STATUS"
http GET "$URL/add?a=1" -H "Authorization: Bearer $FRANK"
t_eq "and no other" 403 "$HTTP_STATUS"
http GET "$URL/whoami" -H "X-API-Key: $KEY"
t_eq "an API key with rpc:execute: runs as its service account" "200 svc" "$HTTP_STATUS $(jq -r .principal <<<"$HTTP_BODY")"
http GET "$URL/whoami" -H "X-API-Key: $NARROW"
t_eq "a key whose scopes do not cover it: 403" 403 "$HTTP_STATUS"
http GET "$URL/whoami" -H "X-API-Key: wdn_bad_bad"
t_eq "a wrong key: 401" 401 "$HTTP_STATUS"
q "SELECT warden.revoke('$BOB')" >/dev/null
http GET "$URL/notes" -H "Authorization: Bearer $BOB"
t_eq "a revoked token: 401" 401 "$HTTP_STATUS"
get private
t_eq "no EXECUTE privilege for WARDEN_DB_ROLE: 403 from the database" "403 42501" \
  "$HTTP_STATUS $(jq -r .sqlstate <<<"$HTTP_BODY")"

# --- errors ----------------------------------------------------------------------
get 'account?email=jane.doe@example.com'
t_eq "RAISE EXCEPTION: 400 with its SQLSTATE" "400 bad_request P0001" "$HTTP_STATUS $(err) $(jq -r .sqlstate <<<"$HTTP_BODY")"
t_eq "the message, its email masked" "no account for [EMAIL]" "$(jq -r .message <<<"$HTTP_BODY")"
t_eq "the hint too" "ask [EMAIL]" "$(jq -r .hint <<<"$HTTP_BODY")"
t_check "never the DETAIL, nor the address anywhere" sh -c '! printf "%s" "$1" | grep -q -e row: -e jane' _ "$HTTP_BODY"
post add_tag '{"tag": "t1"}'
post add_tag '{"tag": "t1"}'
t_eq "a unique violation: 409" "409 conflict 23505" "$HTTP_STATUS $(err) $(jq -r .sqlstate <<<"$HTTP_BODY")"
post add_note '{"body": "'"$(head -c 101 /dev/zero | tr '\0' x)"'"}'
t_eq "a check violation: 400" "400 23514" "$HTTP_STATUS $(jq -r .sqlstate <<<"$HTTP_BODY")"
get too_slow
t_eq "a cancelled statement: 504" "504 timeout 57014" "$HTTP_STATUS $(err) $(jq -r .sqlstate <<<"$HTTP_BODY")"
get broken
t_eq "a broken function: 500, without the database's message" "500 internal_error internal error" \
  "$HTTP_STATUS $(err) $(jq -r .message <<<"$HTTP_BODY")"
get 'add?a=x'
t_eq "a value its type refuses: 400 22P02" "400 22P02" "$HTTP_STATUS $(jq -r .sqlstate <<<"$HTTP_BODY")"
get 'add?b=1'
t_eq "a missing argument: 400 naming it" '400 missing argument "a"' "$HTTP_STATUS $(jq -r .message <<<"$HTTP_BODY")"
post add '{"a": 1, "c": 2}'
t_eq "an unknown argument: 400 naming it" '400 unknown argument "c"' "$HTTP_STATUS $(jq -r .message <<<"$HTTP_BODY")"
post add '{"a": {"x": 1}}'
t_eq "an object for an integer: 400" 400 "$HTTP_STATUS"
get 'poly?x=1'
t_eq "a function over pseudo-types is not reachable: 404" 404 "$HTTP_STATUS"
post proc ''
t_eq "a procedure is not reachable: 404" 404 "$HTTP_STATUS"

# --- hostile input -----------------------------------------------------------------
post add '{"a": 1'
t_eq "bad JSON: 400" "400 bad_request" "$HTTP_STATUS $(err)"
post add '[1, 2]'
t_eq "a body that is not an object: 400" 400 "$HTTP_STATUS"
post add '"a"'
t_eq "a string body: 400" 400 "$HTTP_STATUS"
post add '{"a": 1, "a": 2}'
t_eq "an argument given twice: 400" 400 "$HTTP_STATUS"
post add "$(printf '{"a": "\xff"}')"
t_eq "invalid UTF-8: 400" 400 "$HTTP_STATUS"
post add '{"a": "1\u0000"}'
t_eq "a NUL: 400" 400 "$HTTP_STATUS"
post add '{"a": "1); DROP TABLE app.notes; --"}'
t_eq "SQL in a value is only a value: 400 22P02" "400 22P02" "$HTTP_STATUS $(jq -r .sqlstate <<<"$HTTP_BODY")"
post add '{"a\" => 1); DROP TABLE app.notes; --": 1}'
t_eq "SQL in a name is only an unknown name: 400" 400 "$HTTP_STATUS"
t_eq "app.notes is still there" 2 "$(q 'SELECT count(*) FROM app.notes')"
http POST "$URL/add" "${A[@]}" -d '{"a": 1}'
t_eq "a body that is not application/json: 415" 415 "$HTTP_STATUS"
post 'add?a=1' '{}'
t_eq "POST with a query string: 400" 400 "$HTTP_STATUS"
http GET "$URL/add?a=1" "${A[@]}" -H 'Content-Type: application/json' --data-binary '{"a": 2}' -X GET
t_eq "GET with a body: 400" 400 "$HTTP_STATUS"
http PUT "$URL/add" "${A[@]}"
t_eq "PUT: 405 with Allow" "405 GET, HEAD, POST" "$HTTP_STATUS $(header Allow)"
big=$WARDEN_TEST_TMP/rpc-big.json
{ printf '{"body": "'; head -c $((1024 * 1024)) /dev/zero | tr '\0' x; printf '"}'; } >"$big"
http POST "$URL/add_note" "${A[@]}" "${JSON[@]}" --data-binary "@$big"
t_eq "a body over 1 MiB: 413" 413 "$HTTP_STATUS"
for path in '../warden.login' '..%2fwarden.login' '%2e%2e/warden.login' 'warden.login' 'login' 'version' \
  'pg_catalog.pg_sleep' 'pg_sleep' '%22add%22' '"add"' 'ADD' 'Add' 'ad%64' 'add%00' 'add/' 'add/x' \
  'add;x' "add'" '' 'a%20b' 'public.whoami' '%C3%A9' "$(head -c 64 /dev/zero | tr '\0' a)"; do
  http GET "$URL/$path" "${A[@]}" --path-as-is
  t_eq "GET /v1/rpc/$path: 404" "404 not_found" "$HTTP_STATUS $(err)"
done
t_eq "a function of the same name in public is not the one called" alice "$(get whoami; jq -r .principal <<<"$HTTP_BODY")"
http GET "http://127.0.0.1:$PORT/v1/%72pc/add?a=1" "${A[@]}"
t_eq "a second spelling of the prefix: 404" 404 "$HTTP_STATUS"
t_check "the edge still serves" curl -fsS --max-time 2 "http://127.0.0.1:$PORT/healthz"

# --- a stale catalog cache (kept for 10 minutes here) --------------------------------
q "DROP FUNCTION api.add(int, int); CREATE FUNCTION api.add(a text, b text DEFAULT '!') RETURNS text
   LANGUAGE sql IMMUTABLE AS 'SELECT a || b'"
get 'add?a=x'
t_eq "a function retyped since it was cached: read again, called" '200 "x!"' "$HTTP_STATUS $HTTP_BODY"
q "DROP FUNCTION api.pick(int, int); CREATE FUNCTION api.pick(x int, y int) RETURNS text
   LANGUAGE sql IMMUTABLE AS \$\$SELECT 'xy'\$\$"
post pick '{"x": 1, "y": 2}'
t_eq "arguments renamed since: read again, called" '200 "xy"' "$HTTP_STATUS $HTTP_BODY"
get flip
q "CREATE OR REPLACE FUNCTION api.flip() RETURNS int LANGUAGE plpgsql VOLATILE AS \$\$
   BEGIN INSERT INTO app.tags VALUES ('flipped'); RETURN 2; END\$\$"
get flip
t_eq "STABLE when cached, VOLATILE now: the GET cannot write (read-only), 405" "405 POST 25006" \
  "$HTTP_STATUS $(header Allow) $(jq -r .sqlstate <<<"$HTTP_BODY")"
t_eq "nothing was written" 0 "$(q "SELECT count(*) FROM app.tags WHERE tag = 'flipped'")"
post flip '{}'
t_eq "POST calls it" "200 2" "$HTTP_STATUS $HTTP_BODY"
q "CREATE FUNCTION api.later() RETURNS text LANGUAGE sql STABLE AS \$\$SELECT 'new'\$\$"
get later
t_eq "a function created after the edge started" '200 "new"' "$HTTP_STATUS $HTTP_BODY"

# --- many calls at once: one pipeline, separate transactions ---------------------------
# 60 calls in flight over 10 connections: a pool thread sends those queued
# behind it in one pipeline, each its own transaction; the failing ones
# must not take their neighbours down, nor write what they rolled back.
q "TRUNCATE app.tags" >/dev/null
for i in $(seq 60); do
  case $((i % 3)) in
    0) curl -s -o /dev/null -w '%{http_code} ok\n' "${A[@]}" "$URL/squares?n=3" ;;
    1) curl -s -o /dev/null -w '%{http_code} fail\n' "${A[@]}" "$URL/account?email=x" ;;
    2) curl -s -o /dev/null -w '%{http_code} write\n' "${A[@]}" "${JSON[@]}" \
         --data-binary "{\"tag\": \"t$i\"}" "$URL/add_tag" ;;
  esac &
done >"$WARDEN_TEST_TMP/burst" 2>&1
for j in $(jobs -p); do
  [ "$j" = "$(edge_pid rpc)" ] || wait "$j"
done
t_eq "60 concurrent calls: each answered by its own outcome" "20 200 ok|20 204 write|20 400 fail|" \
  "$(sort "$WARDEN_TEST_TMP/burst" | uniq -c | awk '{ printf "%s %s %s|", $1, $2, $3 }')"
t_eq "and every write committed once" 20 "$(q "SELECT count(*) FROM app.tags WHERE tag LIKE 't%'")"
batched=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "warden_edge_db_batched_total" { print $2 }')
t_check "calls did share round trips ($batched)" test "${batched:-0}" -gt 0

# --- logs and metrics --------------------------------------------------------------
http GET "http://127.0.0.1:$PORT/metrics"
t_match "metrics label the route by its pattern" 'warden_edge_requests_total\{route="/v1/rpc/\{function\}",code="200"\}' "$HTTP_BODY"
t_check "and never by a function's name" sh -c "! printf '%s' \"\$1\" | grep -q -e squares -e add_note" _ "$HTTP_BODY"
LOG=$WARDEN_TEST_TMP/rpc.log
t_eq "the log holds no token, key, argument or address" 0 \
  "$(grep -c -e "${ALICE:0:40}" -e "$KEY" -e 'alice writes' -e 'jane.doe' "$LOG")"
t_eq "nor a function's name" 0 "$(grep -c -e '"squares' -e 'add_note' "$LOG")"
t_eq "no warning about a superuser login" 0 "$(grep -c 'superuser' "$LOG")"

# --- PostgreSQL stopped ------------------------------------------------------------------
"$STACK" stop postgresql >/dev/null
start=$(date +%s%N)
get 'squares?n=1'
ms=$(( ($(date +%s%N) - start) / 1000000 ))
t_eq "PostgreSQL stopped: 503" "503 1" "$HTTP_STATUS $(header Retry-After)"
t_eq "with one Retry-After" 1 "$(printf '%s\n' "$HTTP_HEADERS" | grep -ci '^retry-after:')"
t_check "and quickly ($ms ms)" test "$ms" -lt 2000
http GET "http://127.0.0.1:$PORT/healthz"
t_eq "the edge itself stays up" 200 "$HTTP_STATUS"
"$STACK" start postgresql >/dev/null
wait_until 20 sh -c "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ALICE' '$URL/squares?n=1' | grep -q 200"
get 'squares?n=1'
t_eq "PostgreSQL back: answered again" "200 [{\"i\":1,\"sq\":1}]" "$HTTP_STATUS $HTTP_BODY"
edge_stop rpc
t_eq "the edge stops cleanly" 0 "$EDGE_STATUS"

# --- rate limits per principal: without waiting, shared through Redis -------------------
# Two edges, 5 calls a minute per principal. The edge decides at once by its
# own buckets and counts every call in Redis meanwhile; once Redis refuses,
# the edge refuses too, a Redis round trip later.
rl_clear
PORT2=$((WARDEN_TEST_PORT_BASE + 9))
edge_start rl1 "$PORT" "$EDGE_DB" WARDEN_DB_ROLE=$APP WARDEN_RATE_LIMIT_PRINCIPAL=5/min,burst=5 || true
edge_start rl2 "$PORT2" "$EDGE_DB" WARDEN_DB_ROLE=$APP WARDEN_RATE_LIMIT_PRINCIPAL=5/min,burst=5 || true
calls() { # calls PORT N: the statuses of N calls of alice's
  local i
  for i in $(seq "$2"); do
    curl -s -o /dev/null -w '%{http_code} ' "${A[@]}" "http://127.0.0.1:$1/v1/rpc/squares?n=1"
    sleep 0.05
  done
}
t_eq "three calls at the first edge" "200 200 200 " "$(calls "$PORT" 3)"
t_eq "the second edge: the shared count passes 5 at its third, refused from the fourth" \
  "200 200 200 429 " "$(calls "$PORT2" 4)"
http GET "http://127.0.0.1:$PORT2/v1/rpc/squares?n=1" "${A[@]}"
t_match "429 rate_limited with Retry-After" '^429 rate_limited [0-9]+$' "$HTTP_STATUS $(err) $(header Retry-After)"
t_eq "the first edge: its next call passes its own buckets, Redis refuses it, and it refuses the rest" \
  "200 429 429 " "$(calls "$PORT" 3)"
t_eq "another principal is not held up" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(token bob)" "http://127.0.0.1:$PORT2/v1/rpc/squares?n=1")"
edge_stop rl1
edge_stop rl2
rl_clear

# No count is lost while Redis stalls: Redis frozen (a count stuck on the
# way, the Redis thread waiting for it), a call meanwhile, Redis back; the
# second edge then finds all three of the first edge's calls counted.
edge_start rl3 "$PORT" "$EDGE_DB" WARDEN_DB_ROLE=$APP WARDEN_RATE_LIMIT_PRINCIPAL=5/min,burst=5 \
  WARDEN_REDIS_TIMEOUT_MS=3000 || true
edge_start rl4 "$PORT2" "$EDGE_DB" WARDEN_DB_ROLE=$APP WARDEN_RATE_LIMIT_PRINCIPAL=5/min,burst=5 \
  WARDEN_REDIS_TIMEOUT_MS=3000 || true
REDIS_PID=$(cat "$WARDEN_STACK_DIR/redis/redis.pid")
t_eq "a first call, counted" "200 " "$(calls "$PORT" 1)"
sleep 0.1
kill -STOP "$REDIS_PID"
t_eq "Redis frozen: a call whose count cannot arrive" "200 " "$(calls "$PORT" 1)"
sleep 0.1
t_eq "and one more while that count is out" "200 " "$(calls "$PORT" 1)"
sleep 0.1
kill -CONT "$REDIS_PID"
sleep 0.5
t_eq "Redis back: the second edge finds 3 counted, refused from its fourth" \
  "200 200 200 429 " "$(calls "$PORT2" 4)"
edge_stop rl3
edge_stop rl4
rl_clear

# --- the token cookie; RPC off; an unsafe role -------------------------------------------
edge_start rpc2 "$PORT" "$EDGE_DB" WARDEN_DB_ROLE=$APP WARDEN_TOKEN_COOKIE=wat || true
http GET "$URL/whoami" -H "Cookie: theme=dark; wat=$ALICE"
t_eq "WARDEN_TOKEN_COOKIE: the token from its cookie" "200 alice" "$HTTP_STATUS $(jq -r .principal <<<"$HTTP_BODY")"
edge_stop rpc2
edge_start rpc3 "$PORT" "$EDGE_DB" || true
get 'squares?n=1'
t_eq "WARDEN_DB_ROLE unset: /v1/rpc is off, 501" "501 not_implemented" "$HTTP_STATUS $(err)"
edge_stop rpc3
edge_start rpc4 "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" WARDEN_DB_ROLE=postgres || true
get 'squares?n=1'
t_eq "a superuser as WARDEN_DB_ROLE: refused, 500" 500 "$HTTP_STATUS"
t_eq "and said so in the log" 1 "$(grep -c 'WARDEN_DB_ROLE does not exist, or is a superuser' "$WARDEN_TEST_TMP/rpc4.log")"
t_eq "a superuser login is warned about" 1 "$(grep -c 'logs in to PostgreSQL as a superuser' "$WARDEN_TEST_TMP/rpc4.log")"
edge_stop rpc4

dropdb "$DB"
qp "DROP ROLE $LOGIN; DROP ROLE $APP" >/dev/null
t_done
