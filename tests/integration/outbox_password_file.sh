#!/usr/bin/env bash
# tests/integration/outbox_password_file.sh: the broker password from a file
# (warden.amqp_password_file) instead of warden.amqp_url, as a deployment
# mounts it from a secret store: with the right password in the file the
# workers connect and deliver; a wrong one is refused by the broker, a
# missing or empty file is reported by name, and no error shows the
# password; the file is read again at every connect, so replacing its
# content (a rotated secret) is taken without a reload.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

ob_setup
Q=it.outbox.pwfile
ob_queue "$Q" amq.topic:it.pwfile.# >/dev/null

# The stack's broker URL without its password (user guest, password guest).
URL_NO_PW=$(sed -E 's|^(amqps?://[^:/@]+):[^@]*@|\1@|' <<<"$WARDEN_AMQP_URL")
t_match "a URL without a password" '^amqp://guest@' "$URL_NO_PW"
# The server runs as the postgres OS user: the file goes beside the
# stack's own files for the server, where it can read it.
PW_DIR=$(dirname "$WARDEN_STACK_PG_CA_FILE")/it-password
rm -rf "$PW_DIR"
mkdir -m 755 "$PW_DIR"
PW_FILE=$PW_DIR/password
secret() { # secret TEXT: the file's content, as a Secret volume would hold it
  printf '%s\n' "$1" >"$PW_FILE.new" && chmod 644 "$PW_FILE.new" && mv "$PW_FILE.new" "$PW_FILE"
}
use() { # use URL FILE
  oq "ALTER SYSTEM SET warden.amqp_url = '$1'" >/dev/null
  oq "ALTER SYSTEM SET warden.amqp_password_file = '$2'" >/dev/null
  oq "SELECT pg_reload_conf()" >/dev/null
}
errors() { oq "SELECT string_agg(coalesce(last_error, ''), '; ') FROM warden.outbox_workers()"; }
disconnected() { [ "$(oq "SELECT count(*) FROM warden.outbox_workers() WHERE NOT connected")" = 2 ]; }
has_error() { errors | grep -q -- "$1"; }

# the right password, from the file
secret guest
use "$URL_NO_PW" "$PW_FILE"
t_check "the password from the file: the workers connect" ob_wait_connected 20
oq "SELECT warden.publish('amq.topic', 'it.pwfile.a', '{\"m\": \"from the file\"}')" >/dev/null
t_eq "and deliver" "from the file" "$(ob_consume "$Q" 1 5000 | jq -r '.body | fromjson | .m')"

# a wrong password: the broker refuses the login
secret not-the-password-4711
use "$URL_NO_PW" "$PW_DIR/../$(basename "$PW_DIR")/password"
t_check "a wrong password in the file: the workers do not connect" wait_until 20 disconnected
t_check "the broker's refusal is the workers' last error" wait_until 20 has_error "ACCESS_REFUSED\|login"
t_eq "no error shows the password" "" "$(errors | grep -o 'not-the-password-4711' || true)"
PG_LOG=$("$WARDEN_ROOT/scripts/stack" logs postgresql)
t_eq "nor does the server log" 0 "$(grep -c 'not-the-password-4711' "$PG_LOG")"

# replaced while they retry: taken at the next attempt, without a reload
secret guest
t_check "the secret rotated back: the workers connect without a reload" ob_wait_connected 20

# a file that is not there, or empty
use "$URL_NO_PW" "$PW_DIR/missing"
t_check "a missing file: reported by name" wait_until 20 has_error "could not open warden.amqp_password_file \"$PW_DIR/missing\""
: >"$PW_FILE"
use "$URL_NO_PW" "$PW_FILE"
t_check "an empty file: reported" wait_until 20 has_error "warden.amqp_password_file \"$PW_FILE\" is empty"
t_check "and not connected meanwhile" disconnected

# back to the stack's settings
oq "ALTER SYSTEM RESET warden.amqp_password_file" >/dev/null
oq "ALTER SYSTEM RESET warden.amqp_url" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null
t_check "the stack's own URL again" ob_wait_connected 20
ob_delete_queue "$Q"
ob_teardown
rm -rf "$PW_DIR"
t_done
