#!/usr/bin/env bash
# tests/integration/edge_tls.sh: the edge over HTTPS, with the stack's
# certificate for "localhost": TLS 1.3 only by default (checked with
# openssl s_client and curl), TLS 1.2 when WARDEN_TLS_MIN_VERSION=1.2,
# plain HTTP on the TLS port refused without harm, and bad settings.
. "$WARDEN_ROOT/tests/lib.sh"

PORT=$((WARDEN_TEST_PORT_BASE + 6))
TLS_DIR=$(dirname "$WARDEN_STACK_CA_FILE")
CERT=(WARDEN_TLS_CERT_FILE="$TLS_DIR/server.crt" WARDEN_TLS_KEY_FILE="$TLS_DIR/server.key")
URL=https://localhost:$PORT
CURL=(curl -sS --max-time 5 --cacert "$WARDEN_STACK_CA_FILE" --resolve "localhost:$PORT:127.0.0.1")
s_client() { # VERSION-FLAG: the brief handshake report
  openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -verify_hostname localhost \
    -CAfile "$WARDEN_STACK_CA_FILE" -verify_return_error -brief "$1" </dev/null 2>&1
}

# edge_start probes plain HTTP; here the edge speaks TLS only
start_tls() { # NAME VAR=VALUE...
  local name=$1
  shift
  env WARDEN_LISTEN="127.0.0.1:$PORT" "${CERT[@]}" "$@" "$WARDEN_ROOT/edge/warden-edge" \
    >"$WARDEN_TEST_TMP/$name.log" 2>&1 &
  T_EDGE_PID[$name]=$!
  wait_until 10 "${CURL[@]}" -o /dev/null "$URL/healthz"
}

start_tls tls13
t_eq "HTTPS with the stack's CA: 200" 200 "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/healthz")"
t_eq "curl negotiates TLS 1.3" "TLSv1.3" \
  "$("${CURL[@]}" -o /dev/null -v "$URL/healthz" 2>&1 | sed -n 's/.*SSL connection using \(TLSv[0-9.]*\).*/\1/p' | head -1)"
out=$(s_client -tls1_3)
t_match "openssl s_client: TLS 1.3" 'Protocol version: TLSv1.3' "$out"
t_match "and the certificate verifies for localhost" 'Verification: OK' "$out"
t_check "TLS 1.2 is refused" sh -c "! openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -brief </dev/null >/dev/null 2>&1"
plain=$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")
t_match "plain HTTP on the TLS port gets no answer" '^000$' "$plain"
t_eq "and the edge stays up" 200 "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/healthz")"
edge_stop tls13
t_eq "it drains and exits 0" 0 "$EDGE_STATUS"

start_tls tls12 WARDEN_TLS_MIN_VERSION=1.2
t_match "with WARDEN_TLS_MIN_VERSION=1.2, TLS 1.2 is accepted" 'Protocol version: TLSv1.2' "$(s_client -tls1_2)"
t_match "and TLS 1.3 still preferred" 'Protocol version: TLSv1.3' "$(s_client -tls1_3)"
edge_stop tls12

out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" WARDEN_TLS_CERT_FILE="$TLS_DIR/server.crt" \
  "$WARDEN_ROOT/edge/warden-edge" 2>&1)
t_eq "a certificate without a key: exit 2" 2 "$?"
t_match "naming the settings" 'WARDEN_TLS_CERT_FILE and WARDEN_TLS_KEY_FILE' "$out"
out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" WARDEN_TLS_CERT_FILE=/nonexistent.pem \
  WARDEN_TLS_KEY_FILE="$TLS_DIR/server.key" "$WARDEN_ROOT/edge/warden-edge" 2>&1)
t_eq "a missing certificate file: exit 1" 1 "$?"
t_match "naming the file" 'WARDEN_TLS_CERT_FILE: cannot read /nonexistent.pem' "$out"
t_check "without printing any key material" sh -c "! printf '%s' '$out' | grep -q 'PRIVATE KEY'"
out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" "${CERT[@]}" WARDEN_TLS_MIN_VERSION=1.1 \
  "$WARDEN_ROOT/edge/warden-edge" 2>&1)
t_eq "TLS 1.1 is not a choice: exit 2" 2 "$?"
t_done
