#!/usr/bin/env bash
# tests/integration/deploy_smoke.sh: scripts/smoke, the deploy workflow's
# smoke test (and so the trigger of its automatic rollback), against the
# real edge: it passes on a healthy edge, names what fails on an edge whose
# Redis is gone (degraded, unless allowed), on an edge without its database,
# and when nothing answers at all.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_smoke
PORT=$((WARDEN_TEST_PORT_BASE + 9))
URL=http://127.0.0.1:$PORT
SMOKE=$WARDEN_ROOT/scripts/smoke
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null

# smoke NAME EXPECTED-STATUS BASE-URL [VAR=VALUE...]: runs scripts/smoke
# with a short timeout; sets SMOKE_OUT
smoke() {
  local name=$1 want=$2 base=$3 rc
  shift 3
  SMOKE_OUT=$(env SMOKE_TIMEOUT=3 "$@" "$SMOKE" "$base" 2>&1)
  rc=$?
  t_eq "$name" "$want" "$rc"
}

edge_start smoke "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" || true
smoke "a new installation (no signing key yet) passes" 0 "$URL"
t_match "each check is named" "ok   GET /healthz.*ok   GET /readyz.*ok   GET /.well-known/jwks.json" \
  "$(tr '\n' ' ' <<<"$SMOKE_OUT")"
q "SET warden.password_cost = 4; SELECT warden.create_user('smoke_user', 'long enough password')" >/dev/null
q "SELECT warden.login('smoke_user', 'long enough password')" >/dev/null
smoke "with signing keys published, it passes" 0 "$URL"
smoke "a base URL with a trailing slash works" 0 "$URL/"
edge_stop smoke

# Redis gone: the edge answers but is degraded
edge_start noredis "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/$DB" \
  "WARDEN_REDIS_URL=redis://127.0.0.1:1" || true
wait_until 5 sh -c "curl -s $URL/readyz | grep -q degraded"
smoke "an edge without Redis (degraded) fails one check" 1 "$URL"
t_match "the failure names /readyz and what it saw" 'FAIL GET /readyz is ready: status 200, body .*"degraded"' "$SMOKE_OUT"
smoke "SMOKE_ALLOW_DEGRADED=1 lets degraded pass" 0 "$URL" SMOKE_ALLOW_DEGRADED=1
edge_stop noredis

# No database: live, but neither ready nor able to serve keys
edge_start nodb "$PORT" "WARDEN_DATABASE_URL=postgresql://postgres@127.0.0.1:1/$DB" || true
smoke "an edge without its database fails /readyz and the key set" 2 "$URL"
t_match "the key set's failure is its 503" 'FAIL GET /.well-known/jwks.json is a set of RSA keys: status 503' "$SMOKE_OUT"
edge_stop nodb

smoke "nothing listening: every check fails" 3 "$URL"
t_match "status 000 when nothing answers" "FAIL GET /healthz is ok: status 000" "$SMOKE_OUT"
out=$("$SMOKE" 2>&1)
t_eq "no base URL: usage, status 64" "64 usage: scripts/smoke BASE_URL" "$? $out"

dropdb --if-exists "$DB" >/dev/null 2>&1
t_done
