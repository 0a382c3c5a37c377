#!/usr/bin/env bash
# tests/integration/edge_chain.sh: chained runs in the edge's pool
# (edge/dbpool.c, edge/pgconn.c). With one connection and many calls at
# once, the calls that wait go to the server as a run of explicit
# transactions sharing one Sync; the first failure in a run makes the
# server skip the rest of it, and the pool sends those again, alone.
#
# Covers, on the real edge: a concurrent mix where every third call fails
# after writing, each call gets its own answer (200 with its value, or 400
# with its own message); the failed calls' writes are rolled back and every
# other call's write is there exactly once (skipped calls ran once, when
# sent again); a failure at COMMIT (a deferred foreign key) is the call's own
# 409, alone (the commit at a Sync) and among others (a chained COMMIT), and
# the connection serves the calls after it; runs did form.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_chain
PORT=$WARDEN_TEST_PORT_BASE
BASE_URL=http://127.0.0.1:$PORT
APP=regress_chain_app
PW='long enough password'
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

TOKEN=$(rpc_db "$DB" "$APP" "$PW" <<SQL
CREATE TABLE taken (n int PRIMARY KEY);
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);
GRANT INSERT ON taken, child TO $APP;
GRANT SELECT ON child TO $APP;
-- writes, then refuses every third n: the write must not survive
CREATE FUNCTION api.take(n int) RETURNS int LANGUAGE plpgsql VOLATILE AS \$\$
BEGIN
  INSERT INTO public.taken VALUES (n);
  IF n % 3 = 0 THEN
    RAISE EXCEPTION 'refused %', n;
  END IF;
  RETURN n;
END \$\$;
-- succeeds, and fails only when its transaction commits
CREATE FUNCTION api.orphan(n int) RETURNS int LANGUAGE sql VOLATILE
  AS 'INSERT INTO public.child VALUES (n) RETURNING p';
CREATE FUNCTION api.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
GRANT EXECUTE ON FUNCTION api.take(int), api.orphan(int), api.add(int, int) TO $APP;
SQL
)
AUTH="Authorization: Bearer $TOKEN"

metric() {
  curl -s --max-time 5 "$BASE_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# one worker, one connection: every call waiting goes into the next run
edge_start chain "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" \
  WARDEN_DB_ROLE=$APP WARDEN_THREADS=1 WARDEN_DB_POOL_SIZE=1 \
  WARDEN_RATE_LIMIT_IP=1000000/s WARDEN_RATE_LIMIT_PRINCIPAL=1000000/s || true

# --- a failure at COMMIT, alone ------------------------------------------------
http POST "$BASE_URL/v1/rpc/orphan" -H "$AUTH" -H 'Content-Type: application/json' --data '{"n": 5}'
t_eq "a deferred foreign key that fails at the commit: the call's own 409" "409 23503" \
  "$HTTP_STATUS $(jq -r .sqlstate <<<"$HTTP_BODY" 2>/dev/null)"
http POST "$BASE_URL/v1/rpc/add" -H "$AUTH" -H 'Content-Type: application/json' --data '{"a": 1, "b": 2}'
t_eq "... and the connection serves the next call" "200 3" "$HTTP_STATUS $HTTP_BODY"

# --- a concurrent mix ------------------------------------------------------------
batched0=$(metric warden_edge_db_batched_total)
python3 - "$PORT" "$TOKEN" >"$WARDEN_TEST_TMP/chain.out" 2>&1 <<'PY'
import http.client, json, sys, threading

port, token = int(sys.argv[1]), sys.argv[2]
N, WORKERS = 960, 48
answers = {}
lock = threading.Lock()

def call(n):
    # every 40th call fails only at its commit
    return ('orphan' if n % 40 == 7 else 'take'), json.dumps({'n': n})

def worker(ns):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    for n in ns:
        fn, body = call(n)
        conn.request('POST', '/v1/rpc/' + fn, body,
                     {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
        r = conn.getresponse()
        data = r.read().decode()
        with lock:
            answers[n] = (fn, r.status, data)
    conn.close()

threads = [threading.Thread(target=worker, args=(range(i + 1, N + 1, WORKERS),))
           for i in range(WORKERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()

wrong = []
taken = 0
for n in range(1, N + 1):
    fn, status, data = answers.get(n, (None, None, ''))
    if fn == 'orphan':
        ok = status == 409 and json.loads(data).get('sqlstate') == '23503'
    elif n % 3 == 0:
        ok = status == 400 and json.loads(data).get('message') == 'refused %d' % n
    else:
        ok = status == 200 and data == str(n)
        taken += 1
    if not ok:
        wrong.append('%d %s %s %s' % (n, fn, status, data[:120]))
print('answered', len(answers))
print('wrong', len(wrong))
print('taken', taken)
for w in wrong[:5]:
    print('example', w)
PY
cat "$WARDEN_TEST_TMP/chain.out" >&2
t_eq "960 concurrent calls all answered" 960 "$(awk '$1 == "answered" { print $2 }' "$WARDEN_TEST_TMP/chain.out")"
t_eq "... each with its own answer (its value, its own refusal, its commit's 409)" 0 \
  "$(awk '$1 == "wrong" { print $2 }' "$WARDEN_TEST_TMP/chain.out")"
expected=$(awk '$1 == "taken" { print $2 }' "$WARDEN_TEST_TMP/chain.out")
t_eq "every successful call's write is there, exactly once" "$expected $expected" \
  "$(q "SELECT count(*) || ' ' || count(DISTINCT n) FROM taken")"
t_eq "... and no refused call's write survived" 0 "$(q "SELECT count(*) FROM taken WHERE n % 3 = 0")"
t_eq "... nor any write of a call whose commit failed" 0 "$(q "SELECT count(*) FROM child")"
t_check "the calls went in runs (db_batched_total grew)" \
  awk -v a="${batched0:-0}" -v b="$(metric warden_edge_db_batched_total)" 'BEGIN { exit !(b - a >= 100) }'
t_eq "the pool is idle again (busy, waiting)" "0 0" \
  "$(metric warden_edge_db_pool_busy) $(metric warden_edge_db_pool_waiting)"
http POST "$BASE_URL/v1/rpc/add" -H "$AUTH" -H 'Content-Type: application/json' --data '{"a": 2, "b": 2}'
t_eq "a call after the mix: 200" "200 4" "$HTTP_STATUS $HTTP_BODY"
t_check "the edge is still up" kill -0 "$(edge_pid chain)"

edge_stop chain
t_eq "it stops cleanly (exit 0)" 0 "$EDGE_STATUS"
rpc_db_drop "$DB" "$APP"
t_done
