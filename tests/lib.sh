# tests/lib.sh: the small harness every integration test sources.
#
# A test file records results with t_pass/t_fail (or the t_check, t_eq and
# t_match shorthands) and ends with t_done, which prints the file's summary
# and appends "name passed failed" to $WARDEN_TEST_RESULTS, where scripts/test
# adds up every suite. Output is TAP-like ("ok - ..." / "not ok - ...") so a
# failing row names itself.
#
# scripts/test exports, before running a test file:
#   WARDEN_ROOT            the checkout
#   WARDEN_TEST_TMP        a scratch directory for this run
#   WARDEN_TEST_RESULTS    the file t_done appends to
#   WARDEN_TEST_PORT_BASE  first of ten free ports for edges started by tests
#   and the stack's environment (scripts/stack env): PGHOST, PGPORT, PGUSER,
#   PGDATABASE, WARDEN_DATABASE_URL, WARDEN_REDIS_URL, WARDEN_AMQP_URL.

set -u

T_NAME=$(basename "$0" .sh)${WARDEN_TEST_SUFFIX:-}
T_PASS=0
T_FAIL=0
declare -A T_EDGE_PID=()

t_pass() {
  T_PASS=$((T_PASS + 1))
  echo "ok - $1"
}

t_fail() {
  T_FAIL=$((T_FAIL + 1))
  echo "not ok - $1"
  if [ -n "${2:-}" ]; then
    printf '%s\n' "$2" | sed 's/^/#   /'
  fi
}

# t_check NAME CMD...: passes when CMD exits 0.
t_check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    t_pass "$name"
  else
    t_fail "$name" "command failed: $*
$out"
  fi
}

# t_eq NAME EXPECTED ACTUAL
t_eq() {
  if [ "$2" = "$3" ]; then
    t_pass "$1"
  else
    t_fail "$1" "expected: $2
actual:   $3"
  fi
}

# t_match NAME EXTENDED-REGEX ACTUAL
t_match() {
  if printf '%s' "$3" | grep -Eq -- "$2"; then
    t_pass "$1"
  else
    t_fail "$1" "expected to match: $2
actual: $3"
  fi
}

# t_done: summary line, results file, exit status. Edges still running are
# stopped first so a failing test never leaves a process behind.
t_done() {
  local n reports
  for n in "${!T_EDGE_PID[@]}"; do
    edge_stop "$n" KILL >/dev/null 2>&1 || true
  done
  # a sanitized edge (WARDEN_EDGE_BIN) reports into its log
  if [ -n "${WARDEN_EDGE_BIN:-}" ]; then
    reports=$(grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
      "$WARDEN_TEST_TMP"/*.log 2>/dev/null || true)
    if [ -n "$reports" ]; then
      t_fail "the sanitized edge reported errors" "$(grep -h -A 12 -E 'ERROR: |runtime error:' $reports | head -n 60)"
    else
      t_pass "the sanitized edge reported no memory error, leak or undefined behaviour"
    fi
  fi
  echo "suite $T_NAME: $T_PASS passed, $T_FAIL failed"
  if [ -n "${WARDEN_TEST_RESULTS:-}" ]; then
    echo "$T_NAME $T_PASS $T_FAIL" >>"$WARDEN_TEST_RESULTS"
  fi
  [ "$T_FAIL" -eq 0 ]
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  "$@" >/dev/null 2>&1
}

# unb64url TEXT: the bytes TEXT encodes in base64url (RFC 4648 section 5).
unb64url() {
  local s=$1
  case $((${#s} % 4)) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | tr '_-' '/+' | openssl base64 -d -A
}

# jwk_pem JWK FILE: writes the RSA public key of a JWK (JSON text) to FILE
# as PEM, built by openssl from n and e, so a test checks signatures with a
# key no warden code has touched.
jwk_pem() {
  local n_hex e_hex conf=$2.asn1
  n_hex=$(unb64url "$(jq -r .n <<<"$1")" | od -An -v -tx1 | tr -d ' \n')
  e_hex=$(unb64url "$(jq -r .e <<<"$1")" | od -An -v -tx1 | tr -d ' \n')
  printf 'asn1=SEQUENCE:pubkey\n[pubkey]\nn=INTEGER:0x%s\ne=INTEGER:0x%s\n' \
    "$n_hex" "$e_hex" >"$conf"
  openssl asn1parse -genconf "$conf" -noout -out "$2.der" &&
    openssl rsa -RSAPublicKey_in -inform DER -in "$2.der" -pubout -out "$2" 2>/dev/null
}

# http METHOD URL [curl args...]: sets HTTP_STATUS, HTTP_BODY and
# HTTP_HEADERS (raw header block, CRs stripped).
http() {
  local method=$1 url=$2
  shift 2
  local hdr="$WARDEN_TEST_TMP/http.headers" body="$WARDEN_TEST_TMP/http.body"
  local head=()
  # curl writes no file for an empty body: no stale body from the last call
  rm -f "$body" "$hdr"
  # -X HEAD alone would wait for the body Content-Length announces
  [ "$method" = HEAD ] && head=(-I)
  HTTP_STATUS=$(curl -sS -o "$body" -D "$hdr" -w '%{http_code}' \
    --max-time 10 "${head[@]}" -X "$method" "$@" "$url" 2>"$WARDEN_TEST_TMP/http.err") ||
    HTTP_STATUS=000
  HTTP_BODY=$(cat "$body" 2>/dev/null || true)
  HTTP_HEADERS=$(tr -d '\r' <"$hdr" 2>/dev/null || true)
}

# header NAME: the value of response header NAME from the last http call.
header() {
  printf '%s\n' "$HTTP_HEADERS" | awk -v IGNORECASE=1 -v n="$1" '
    BEGIN { n = tolower(n) }
    { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
        v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

# rpc_db DB APP PASSWORD < SQL: a fresh database DB for /v1/rpc tests: the
# extension, a NOLOGIN role APP (for WARDEN_DB_ROLE) with USAGE on schema
# api, the test's own SQL from stdin (its functions and grants), and alice
# (PASSWORD), whose role rpc_caller holds rpc:execute everywhere. Prints
# alice's access token. rpc_db_drop DB APP removes both again.
rpc_db() {
  local db=$1 app=$2 pw=$3
  rpc_db_drop "$db" "$app"
  createdb "$db" || return 1
  {
    printf '%s\n' "CREATE EXTENSION warden;" "SET warden.password_cost = 4;" \
      "CREATE ROLE $app NOLOGIN;" "CREATE SCHEMA api;" "GRANT USAGE ON SCHEMA api TO $app;"
    cat
    printf '%s\n' "SELECT warden.create_user('alice', '$pw'), warden.create_role('rpc_caller'),
      warden.add_permission('rpc_caller', 'rpc:execute'), warden.grant('alice', 'rpc_caller');"
  } | psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null || return 1
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "SELECT access_token FROM warden.login('alice', '$pw')"
}
rpc_db_drop() {
  dropdb --if-exists "$1" >/dev/null 2>&1
  qp "DROP ROLE IF EXISTS $2" >/dev/null
}

# qp SQL: runs SQL on the postgres database (roles, settings, other
# sessions), unaligned, stopping at the first error, without notices.
qp() { PGOPTIONS='-c client_min_messages=warning' psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }

# edge_start NAME PORT [VAR=VALUE ...]: starts edge/warden-edge in the
# background with the stack's environment plus the given variables, logging
# to $WARDEN_TEST_TMP/NAME.log, and waits until /healthz answers, and for at
# most 5 s until /readyz does.
edge_start() {
  local name=$1 port=$2
  shift 2
  local log="$WARDEN_TEST_TMP/$name.log"
  env WARDEN_LISTEN="127.0.0.1:$port" "$@" \
    "${WARDEN_EDGE_BIN:-$WARDEN_ROOT/edge/warden-edge}" >"$log" 2>&1 &
  T_EDGE_PID[$name]=$!
  if ! wait_until 10 curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz"; then
    echo "# edge $name did not come up; its log:" >&2
    tail -n 20 "$log" | sed 's/^/#   /' >&2
    return 1
  fi
  # ready: it has read the database's state (a test that starts it without
  # a database goes on after a few seconds and sees what it answers then)
  wait_until 5 curl -fsS --max-time 1 "http://127.0.0.1:$port/readyz" || true
}

# edge_stop NAME [SIGNAL]: signals the edge (TERM by default), waits for it
# and sets EDGE_STATUS to its exit status.
edge_stop() {
  local name=$1 sig=${2:-TERM}
  local pid=${T_EDGE_PID[$name]:-}
  EDGE_STATUS=
  [ -n "$pid" ] || return 1
  kill -s "$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null
  EDGE_STATUS=$?
  unset "T_EDGE_PID[$name]"
}

# exited PID: the child has exited (a zombie until waited for, or gone).
exited() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "$state" = Z ]
}

# wait_exit NAME SECONDS: waits for an edge that was already signalled, sets
# EDGE_STATUS; an edge still running after SECONDS is killed (status 137).
wait_exit() {
  local pid
  pid=$(edge_pid "$1")
  if wait_until "$2" exited "$pid"; then
    edge_stop "$1" 0
  else
    edge_stop "$1" KILL
  fi
}

# edge_pid NAME: the process id of a running edge.
edge_pid() {
  echo "${T_EDGE_PID[$1]:-}"
}
