#!/usr/bin/env bash
# tests/integration/outbox_tls.sh: the outbox workers over amqps://. With
# the stack's CA they deliver through RabbitMQ's TLS listener; with another
# CA, or with a host name the certificate does not name, they refuse to
# connect, say why, and deliver nothing until the settings are fixed. The
# listener itself is checked with openssl s_client. A handshake that fails
# (amqps:// to a port that speaks no TLS) is retried with growing backoff,
# shown as each worker's last error in warden.outbox_workers() and
# warden.outbox_stats(), and logged once, not at every attempt.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

ob_setup
Q=it.outbox.tls
ob_queue "$Q" amq.topic:it.tls.# >/dev/null
AMQPS_PORT=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$WARDEN_AMQPS_URL")

out=$(openssl s_client -connect "127.0.0.1:$AMQPS_PORT" -servername localhost -verify_hostname localhost \
  -CAfile "$WARDEN_STACK_CA_FILE" -verify_return_error -brief </dev/null 2>&1)
t_match "the broker's TLS listener verifies with the stack's CA (openssl s_client)" 'Verification: OK' "$out"
t_match "and speaks TLS 1.3" 'Protocol version: TLSv1.3' "$out"

use() { # use URL CA_FILE: the workers' broker settings
  oq "ALTER SYSTEM SET warden.amqp_url = '$1'" >/dev/null
  oq "ALTER SYSTEM SET warden.amqp_ca_file = '$2'" >/dev/null
  oq "SELECT pg_reload_conf()" >/dev/null
}
errors() { oq "SELECT string_agg(coalesce(last_error, ''), '; ') FROM warden.outbox_workers()"; }
disconnected() { [ "$(oq "SELECT count(*) FROM warden.outbox_workers() WHERE NOT connected")" = 2 ]; }

# The stack's CA: delivered over TLS.
use "$WARDEN_AMQPS_URL" "$WARDEN_STACK_PG_CA_FILE"
t_check "the workers connect over amqps://" ob_wait_connected 20
oq "SELECT warden.publish('amq.topic', 'it.tls.' || i, jsonb_build_object('i', i)) FROM generate_series(1, 10) AS i" >/dev/null
t_eq "messages are delivered over TLS" 10 "$(ob_consume "$Q" 10 5000 | wc -l)"

# Another CA: the broker's certificate does not verify.
other=$WARDEN_TEST_TMP/other-ca
mkdir -p "$other"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=some other CA" \
  -keyout "$other/ca.key" -out "$other/ca.crt" >/dev/null 2>&1
# Beside the stack's CA, where the server's OS user can read it.
cafile=$WARDEN_STACK_PG_CA_FILE.other
install -m 644 "$other/ca.crt" "$cafile"
use "$WARDEN_AMQPS_URL" "$cafile"
t_check "with a CA that did not sign the broker's certificate, the workers do not connect" \
  wait_until 20 disconnected
t_match "and say why" 'certificate|SSL|ssl|verif' "$(errors)"
oq "SELECT warden.publish('amq.topic', 'it.tls.x', '{\"m\": \"held\"}')" >/dev/null
sleep 2
t_eq "nothing is delivered" 0 "$(ob_consume "$Q" 1 1500 | wc -l)"
t_eq "the message waits in the outbox" 1 "$(ob_pending)"

# The right CA, but the address instead of the name the certificate bears.
use "${WARDEN_AMQPS_URL/@localhost:/@127.0.0.1:}" "$WARDEN_STACK_PG_CA_FILE"
sleep 3
t_check "a host name the certificate does not name is refused" disconnected
t_eq "still nothing delivered" 1 "$(ob_pending)"

# Fixed: the held message goes out.
use "$WARDEN_AMQPS_URL" "$WARDEN_STACK_PG_CA_FILE"
t_check "with the right settings the workers reconnect" ob_wait_connected 20
t_eq "and deliver the held message" held "$(ob_consume "$Q" 1 5000 | jq -r '.body | fromjson | .m')"

# A failed handshake: amqps:// to the broker's plain AMQP port, where no TLS
# server answers. Connected until now, the workers start their backoff from
# its least (0.2 s, doubling up to 5 s, with jitter); every failed attempt
# stamps last_error_at, sampled here for 12 s.
AMQP_PORT=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$WARDEN_AMQP_URL")
PG_LOG=$("$WARDEN_ROOT/scripts/stack" logs postgresql)
logsize=$(stat -c %s "$PG_LOG")
use "amqps://guest:guest@localhost:$AMQP_PORT/%2f" "$WARDEN_STACK_PG_CA_FILE"
t_check "amqps:// to a port that speaks no TLS: the workers do not connect" wait_until 20 disconnected
samples=$WARDEN_TEST_TMP/handshake.samples
: >"$samples"
end=$((SECONDS + 12))
while [ "$SECONDS" -lt "$end" ]; do
  oq "SELECT worker || ' ' || extract(epoch FROM last_error_at) FROM warden.outbox_workers()" >>"$samples"
  sleep 0.2
done
# per worker: attempts seen, and the longest gap between two of them (s)
attempts() { awk -v w="$1" '$1 == w { print $2 }' "$samples" | sort -u | wc -l; }
longest_gap() {
  awk -v w="$1" '$1 == w { print $2 }' "$samples" | sort -u -g |
    awk 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 } END { printf "%.1f\n", m }'
}
for w in 0 1; do
  t_match "worker $w retries the handshake (attempts in 12 s: $(attempts "$w"))" '^([3-9]|1[0-9])$' "$(attempts "$w")"
  t_check "worker $w backs off: its longest wait grew past 1.5 s, within the 5 s cap ($(longest_gap "$w") s)" \
    awk -v g="$(longest_gap "$w")" 'BEGIN { exit !(g >= 1.5 && g <= 6) }'
done
t_eq "each worker's last error says the handshake failed" \
  "could not connect to localhost:$AMQP_PORT: SSL handshake failed; could not connect to localhost:$AMQP_PORT: SSL handshake failed" \
  "$(errors)"
t_eq "and warden.outbox_stats() shows it for both workers" 2 \
  "$(oq "SELECT count(*) FROM warden.outbox_stats() s, jsonb_array_elements(s.workers) w
         WHERE w->>'last_error' = 'could not connect to localhost:$AMQP_PORT: SSL handshake failed'
           AND NOT (w->>'connected')::boolean")"
t_eq "the server log has it once per worker, not once per attempt" 2 \
  "$(tail -c +$((logsize + 1)) "$PG_LOG" | grep -c "outbox worker [12]: could not connect to localhost:$AMQP_PORT")"
# by now each worker waits seconds between attempts; new settings are
# tried at once, not after that wait
use "$WARDEN_AMQPS_URL" "$WARDEN_STACK_PG_CA_FILE"
t_check "fixed: the workers try the new settings at once, without waiting out their backoff" \
  ob_wait_connected 3
oq "SELECT warden.publish('amq.topic', 'it.tls.after', '{\"m\": \"after\"}')" >/dev/null
t_eq "and deliver" after "$(ob_consume "$Q" 1 5000 | jq -r '.body | fromjson | .m')"

oq "ALTER SYSTEM RESET warden.amqp_url" >/dev/null
oq "ALTER SYSTEM RESET warden.amqp_ca_file" >/dev/null
rm -f "$cafile"
ob_delete_queue "$Q"
ob_teardown
t_done
