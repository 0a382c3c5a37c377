#!/usr/bin/env bash
# tests/integration/edge_tls.sh: the edge over HTTPS, with the stack's
# certificate for "localhost": TLS 1.3 only by default (checked with
# openssl s_client and curl), TLS 1.2 when WARDEN_TLS_MIN_VERSION=1.2,
# plain HTTP on the TLS port refused without harm, bad settings, and the
# certificate rotated with SIGHUP: new handshakes get the new one, a
# keep-alive connection made before goes on, and a broken, mismatched,
# missing or expired pair is refused while the current one stays.
. "$WARDEN_ROOT/tests/lib.sh"

PORT=$((WARDEN_TEST_PORT_BASE + 6))
EDGE=${WARDEN_EDGE_BIN:-$WARDEN_ROOT/edge/warden-edge}
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
  env WARDEN_LISTEN="127.0.0.1:$PORT" "${CERT[@]}" "$@" "$EDGE" \
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
  "$EDGE" 2>&1)
t_eq "a certificate without a key: exit 2" 2 "$?"
t_match "naming the settings" 'WARDEN_TLS_CERT_FILE and WARDEN_TLS_KEY_FILE' "$out"
out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" WARDEN_TLS_CERT_FILE=/nonexistent.pem \
  WARDEN_TLS_KEY_FILE="$TLS_DIR/server.key" "$EDGE" 2>&1)
t_eq "a missing certificate file: exit 1" 1 "$?"
t_match "naming the file" 'WARDEN_TLS_CERT_FILE: cannot read /nonexistent.pem' "$out"
t_check "without printing any key material" sh -c "! printf '%s' '$out' | grep -q 'PRIVATE KEY'"
out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" "${CERT[@]}" WARDEN_TLS_MIN_VERSION=1.1 \
  "$EDGE" 2>&1)
t_eq "TLS 1.1 is not a choice: exit 2" 2 "$?"

# --- rotation with SIGHUP -------------------------------------------------

R=$WARDEN_TEST_TMP/rotate
mkdir -p "$R"
# mkcert NAME DAYS SUBJECT: a key and a certificate for localhost from the
# stack's CA
mkcert() {
  openssl req -newkey rsa:2048 -nodes -subj "$3" -keyout "$R/$1.key" -out "$R/$1.csr" 2>/dev/null &&
    printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$R/$1.ext" &&
    openssl x509 -req -in "$R/$1.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
      -days "$2" -extfile "$R/$1.ext" -out "$R/$1.crt" 2>/dev/null
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
# the serial of the certificate a new handshake gets
served_serial() {
  openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile "$WARDEN_STACK_CA_FILE" \
    -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
use_pair() { # CERT KEY: what the edge's files hold from now on
  cp "$1" "$R/edge.crt" && cp "$2" "$R/edge.key"
}
hup() { # EXPECTED-MESSAGE: SIGHUP, and wait for the edge to log the outcome
  local before
  before=$(grep -c 'TLS certificate' "$WARDEN_TEST_TMP/rotate.log")
  kill -HUP "$(edge_pid rotate)"
  wait_until 5 sh -c "[ \$(grep -c 'TLS certificate' '$WARDEN_TEST_TMP/rotate.log') -gt $before ]"
  grep 'TLS certificate' "$WARDEN_TEST_TMP/rotate.log" | tail -n 1 | jq -r .msg
}
mkcert a 30 "/CN=localhost/O=warden first"
mkcert b 30 "/CN=localhost/O=warden second"
mkcert expired 0 "/CN=localhost/O=warden expired"
use_pair "$R/a.crt" "$R/a.key"
CERT=(WARDEN_TLS_CERT_FILE="$R/edge.crt" WARDEN_TLS_KEY_FILE="$R/edge.key")
start_tls rotate
t_eq "the edge serves the first certificate" "$(serial_of "$R/a.crt")" "$(served_serial)"
t_match "and logs its serial and subject, never the key" \
  "\"serial\":\"$(serial_of "$R/a.crt" | tr A-F a-f)\".*O=warden first" \
  "$(grep '"TLS certificate loaded"' "$WARDEN_TEST_TMP/rotate.log")"

# A keep-alive connection opened before the rotation: one request now, one
# after the SIGHUP, on the same TCP connection and TLS session.
python3 - "$WARDEN_STACK_CA_FILE" "$PORT" "$R/go" >"$R/keepalive.out" 2>&1 <<'PY' &
import http.client, os, ssl, sys, time
ca, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPSConnection("localhost", port, timeout=10,
                                   context=ssl.create_default_context(cafile=ca))
def ask(label):
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    print(label, r.status, conn.sock.getpeercert()["serialNumber"],
          conn.sock.getsockname()[1], conn.sock.version(), flush=True)
ask("before")
deadline = time.time() + 20
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)
ask("after")
PY
keepalive=$!
t_check "a keep-alive connection is open" wait_until 10 grep -q '^before 200' "$R/keepalive.out"

use_pair "$R/b.crt" "$R/b.key"
t_eq "SIGHUP with a new pair: reloaded" "TLS certificate reloaded" "$(hup)"
t_eq "a new handshake gets the new certificate" "$(serial_of "$R/b.crt")" "$(served_serial)"
t_eq "and curl verifies it" 200 "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/healthz")"
touch "$R/go"
wait "$keepalive"
read -r _ _ serial1 port1 _ < <(grep '^before' "$R/keepalive.out")
read -r _ status2 serial2 port2 version2 < <(grep '^after' "$R/keepalive.out")
t_eq "the connection opened before the reload still answers" 200 "${status2:-}"
t_eq "on the same connection (no reconnect)" "$port1" "${port2:-}"
t_eq "whose session keeps the first certificate" "$serial1 TLSv1.3" "${serial2:-} ${version2:-}"
t_eq "which was the first certificate" "$(serial_of "$R/a.crt")" "$serial1"

printf 'not a certificate\n' >"$R/edge.crt"
t_eq "a file that is not PEM: refused" "TLS certificate not reloaded, the current one stays" "$(hup)"
t_match "saying why" 'WARDEN_TLS_CERT_FILE: .*edge.crt is not a PEM file' \
  "$(grep 'not reloaded' "$WARDEN_TEST_TMP/rotate.log" | tail -n 1)"
t_eq "and the second certificate stays" "$(serial_of "$R/b.crt")" "$(served_serial)"

sed '3d' "$R/a.crt" >"$R/edge.crt"
t_eq "a damaged certificate: refused" "TLS certificate not reloaded, the current one stays" "$(hup)"
t_eq "the second certificate stays" "$(serial_of "$R/b.crt")" "$(served_serial)"

use_pair "$R/a.crt" "$R/b.key"
t_eq "a key that is not the certificate's: refused" "TLS certificate not reloaded, the current one stays" "$(hup)"
t_match "saying so" 'is not the key of the certificate' \
  "$(grep 'not reloaded' "$WARDEN_TEST_TMP/rotate.log" | tail -n 1)"
t_eq "the second certificate stays" "$(serial_of "$R/b.crt")" "$(served_serial)"

use_pair "$R/expired.crt" "$R/expired.key"
sleep 1
t_eq "an expired certificate: refused" "TLS certificate not reloaded, the current one stays" "$(hup)"
t_match "saying so" 'the certificate in .*edge.crt expired' "$(grep 'not reloaded' "$WARDEN_TEST_TMP/rotate.log" | tail -n 1)"

use_pair "$R/a.crt" "$R/a.key"
rm "$R/edge.key"
t_eq "a missing key file: refused" "TLS certificate not reloaded, the current one stays" "$(hup)"
t_eq "the second certificate stays" "$(serial_of "$R/b.crt")" "$(served_serial)"
t_eq "and the edge kept answering throughout" 200 "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/healthz")"

use_pair "$R/a.crt" "$R/a.key"
t_eq "a good pair again: reloaded" "TLS certificate reloaded" "$(hup)"
t_eq "served at once" "$(serial_of "$R/a.crt")" "$(served_serial)"
t_match "after the reloads, TLS 1.3 still" 'Protocol version: TLSv1.3' "$(s_client -tls1_3)"
t_check "and TLS 1.2 still refused" sh -c "! openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -brief </dev/null >/dev/null 2>&1"
t_check "no key material in the log" sh -c "! grep -q 'PRIVATE KEY' '$WARDEN_TEST_TMP/rotate.log'"
edge_stop rotate
t_eq "it drains and exits 0" 0 "$EDGE_STATUS"

use_pair "$R/a.crt" "$R/b.key"
out=$(env WARDEN_LISTEN="127.0.0.1:$PORT" "${CERT[@]}" "$EDGE" 2>&1)
t_eq "a mismatched pair at start-up: exit 1" 1 "$?"
t_match "naming the files" 'WARDEN_TLS_KEY_FILE: .*edge.key is not the key of the certificate' "$out"
t_done
