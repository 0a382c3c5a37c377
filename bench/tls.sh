#!/usr/bin/env bash
# bench/tls.sh: the tls section of make bench: what HTTPS costs at the edge.
#
# /v1/authz with valid tokens, cache warm, driven by wrk over HTTPS against
# the same edge binary serving plain HTTP, in the same run, alternating:
#   keepalive  requests/s over 100 keep-alive connections, flat out; goal:
#              HTTPS (TLS 1.3, the edge's default) at 0.70 or more of plain
#              HTTP. 100 connections, not edge.sh's 1,000: the handshakes
#              wrk makes at the start of each run would otherwise be a part
#              of what is measured, and this row is about the traffic of
#              connections already open
#   new-conn   requests/s with Connection: close, so every request opens a
#              connection and, over HTTPS, makes a full handshake (ECDHE and
#              an RSA-2048 signature on each side's CPU, both on this
#              machine); no goal, for scale
# The requests are edge.sh's: 10 users' tokens over 100 paths (1,000
# decisions, all cached after the warm-up run). Both edges run one worker
# per CPU at WARDEN_LOG_LEVEL=warn; the certificate is the stack's (RSA
# 2048, from its own CA). The edge serving HTTPS is checked to refuse
# TLS 1.2 first, so what is measured is TLS 1.3.

source "$WARDEN_ROOT/bench/lib.sh"

DB=warden_bench_tls
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
CONNS=100
CLOSE_CONNS=16
HTTPS_PORT=$((WARDEN_STACK_PORT_BASE + 32))
HTTP_PORT=$((WARDEN_STACK_PORT_BASE + 33))
W=$BENCH_TMP/tls
PW='long enough password'
TLS_DIR=$WARDEN_STACK_DIR/tls
mkdir -p "$W"

command -v wrk >/dev/null || bench_die "wrk is missing (make deps)"
[ -s "$TLS_DIR/server.crt" ] || bench_die "the stack made no certificate ($TLS_DIR)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

token1=$(bench_authz_db "$DB" "$PW" "$W/authz.lua")
# the same requests, each on a connection of its own
sed 's/\["X-Original-Method"\] = "GET",/&\n    ["Connection"] = "close",/' "$W/authz.lua" >"$W/close.lua"

edge_env=(WARDEN_LOG_LEVEL=warn WARDEN_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/$DB")
bench_edge_start "$W/edge-https.log" "${edge_env[@]}" WARDEN_LISTEN="127.0.0.1:$HTTPS_PORT" \
  WARDEN_TLS_CERT_FILE="$TLS_DIR/server.crt" WARDEN_TLS_KEY_FILE="$TLS_DIR/server.key"
https_pid=$EDGE_PID
bench_edge_start "$W/edge-http.log" "${edge_env[@]}" WARDEN_LISTEN="127.0.0.1:$HTTP_PORT"
http_pid=$EDGE_PID
stop_edges() {
  kill "$https_pid" "$http_pid" 2>/dev/null
  wait "$https_pid" "$http_pid" 2>/dev/null
}
trap stop_edges EXIT

status() { # URL: /v1/authz's status for the first user
  curl -s -o /dev/null -w '%{http_code}' --cacert "$TLS_DIR/ca.crt" --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
    "$1/v1/authz" -H "Authorization: Bearer $token1" -H 'X-Original-URI: /documents/1'
}
for _ in $(seq 100); do
  [ "$(status "https://localhost:$HTTPS_PORT")" = 200 ] && [ "$(status "http://127.0.0.1:$HTTP_PORT")" = 200 ] && break
  sleep 0.1
done
[ "$(status "https://localhost:$HTTPS_PORT")" = 200 ] ||
  bench_die "the HTTPS edge does not answer 200 to a valid token ($(tail -n 3 "$W/edge-https.log"))"
[ "$(status "http://127.0.0.1:$HTTP_PORT")" = 200 ] ||
  bench_die "the HTTP edge does not answer 200 to a valid token ($(tail -n 3 "$W/edge-http.log"))"
openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_2 </dev/null >/dev/null 2>&1 &&
  bench_die "the HTTPS edge accepts TLS 1.2; this section measures TLS 1.3"
openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -brief </dev/null 2>&1 | grep -q 'Protocol version: TLSv1.3' ||
  bench_die "the HTTPS edge does not speak TLS 1.3"

# wrk_run URL CONNECTIONS SCRIPT: "rps errors", errors counting socket
# errors and answers other than 2xx/3xx
wrk_run() {
  local out
  out=$(wrk -t "$(nproc)" -c "$2" -d "${SECS}s" --timeout 10s -s "$3" "$1/v1/authz" 2>&1) ||
    bench_die "wrk failed: $out"
  awk '
    /^Requests\/sec:/ { rps = $2 }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { errors += $5 }
    END { printf "%s %d\n", rps, errors }' <<<"$out"
}

# warm-up: every decision cached and every token verified, at both edges
SECS=2 wrk_run "https://127.0.0.1:$HTTPS_PORT" "$CONNS" "$W/authz.lua" >/dev/null
SECS=2 wrk_run "http://127.0.0.1:$HTTP_PORT" "$CONNS" "$W/authz.lua" >/dev/null

https_rps=() http_rps=() https_new=() http_new=()
for i in $(seq "$REPS"); do
  read -r hr herr <<<"$(wrk_run "http://127.0.0.1:$HTTP_PORT" "$CONNS" "$W/authz.lua")"
  read -r sr serr <<<"$(wrk_run "https://127.0.0.1:$HTTPS_PORT" "$CONNS" "$W/authz.lua")"
  [ "$herr" = 0 ] || bench_die "the HTTP edge answered $herr requests with errors"
  [ "$serr" = 0 ] || bench_die "the HTTPS edge answered $serr requests with errors"
  http_rps+=("$hr")
  https_rps+=("$sr")
  read -r hn _ <<<"$(wrk_run "http://127.0.0.1:$HTTP_PORT" "$CLOSE_CONNS" "$W/close.lua")"
  read -r sn _ <<<"$(wrk_run "https://127.0.0.1:$HTTPS_PORT" "$CLOSE_CONNS" "$W/close.lua")"
  http_new+=("$hn")
  https_new+=("$sn")
  printf '  %d/%d %d keep-alive connections: HTTP %s req/s, HTTPS %s req/s | a connection per request (%d at once): HTTP %s req/s, HTTPS %s req/s\n' \
    "$i" "$REPS" "$CONNS" "$(bench_fmt "$hr")" "$(bench_fmt "$sr")" "$CLOSE_CONNS" \
    "$(bench_fmt "$hn")" "$(bench_fmt "$sn")"
done
stop_edges
trap - EXIT
bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" >/dev/null

echo
bench_report tls/authz-keepalive req/s "${https_rps[*]}" "plain HTTP req/s" "${http_rps[*]}" 0.70
bench_report tls/authz-new-conn req/s "${https_new[*]}" "plain HTTP req/s, same" "${http_new[*]}" -
