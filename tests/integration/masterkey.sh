#!/usr/bin/env bash
# tests/integration/masterkey.sh: the master key file. Created on first use
# with safe permissions; a configured file that is missing, readable by
# others, malformed or a different key is refused with a clear error that
# never shows key material; hex and base64 files both work.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_masterkey
# the server's user must reach the key files: not under the checkout,
# which may sit in a home directory it cannot enter
T=$(mktemp -d /tmp/warden-masterkey.XXXXXX)
trap 'rm -rf "$T"' EXIT
data=$(psql -X -At -c 'SHOW data_directory')
pguser=$(stat -c %U "$data")

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
# the error of a fresh session's login, or "ok"
login_error() {
  local out
  if out=$(psql -X -q -At -d "$1" -v ON_ERROR_STOP=1 \
    -c "SELECT token_type FROM warden.login('alice', 'correct horse battery')" 2>&1); then
    echo ok
  else
    printf '%s\n' "$out" | sed -n 's/^ERROR: *//p' | head -n 1
  fi
}
use_key_file() {
  psql -X -q -c "ALTER SYSTEM SET warden.master_key_file = '$1'" -c 'SELECT pg_reload_conf()' >/dev/null
  sleep 0.3
}
# put_key NAME MODE CONTENT: a key file the server's user owns
put_key() {
  printf '%s' "$3" >"$T/$1"
  chown "$pguser" "$T/$1"
  chmod "$2" "$T/$1"
}
chmod 711 "$T"

for db in "$DB" "${DB}_2"; do
  dropdb --if-exists "$db" >/dev/null 2>&1
  createdb "$db"
  psql -X -q -d "$db" -c "CREATE EXTENSION warden" \
    -c "SET warden.password_cost = 4" \
    -c "SELECT warden.create_user('alice', 'correct horse battery')" >/dev/null
done

# --- the default key file -------------------------------------------------------

use_key_file ''
t_eq "login works with the default key" ok "$(login_error "$DB")"
key="$data/warden_master.key"
t_eq "the key file is created in the data directory" yes "$([ -f "$key" ] && echo yes)"
t_eq "it is mode 0600" 600 "$(stat -c %a "$key")"
t_eq "it belongs to the server's user" "$pguser" "$(stat -c %U "$key")"
t_match "it holds 32 bytes as hex" '^[0-9a-f]{64}$' "$(cat "$key")"
original=$(cat "$key")
t_match "creating it was logged" 'warden created a new master key' \
  "$(cat "$("$WARDEN_ROOT/scripts/stack" logs postgresql)")"
t_eq "private keys are stored sealed (format 1), JWKs without private parts" 0 \
  "$(q "SELECT count(*) FROM warden.signing_keys WHERE get_byte(private_key, 0) <> 1 OR public_jwk ?| array['d', 'p', 'q']")"

# --- a configured key file --------------------------------------------------------

put_key same.hex 600 "$original"
use_key_file "$T/same.hex"
t_eq "the same key from a configured file works" ok "$(login_error "$DB")"

use_key_file "$T/missing.key"
err=$(login_error "$DB")
t_match "a missing configured file is refused, not replaced" 'could not open master key file' "$err"
t_eq "and no file was created in its place" no "$([ -e "$T/missing.key" ] && echo yes || echo no)"

put_key open.key 644 "$original"
use_key_file "$T/open.key"
err=$(login_error "$DB")
t_match "a file readable by others is refused" 'wrong ownership or permissions' "$err"

put_key short.key 600 "abcdef"
use_key_file "$T/short.key"
err=$(login_error "$DB")
t_match "a malformed file is refused" 'does not hold a valid key' "$err"
t_eq "the error shows no key material" no "$(printf '%s' "$err" | grep -q abcdef && echo yes || echo no)"

other=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
put_key other.key 600 "$other"
use_key_file "$T/other.key"
err=$(login_error "$DB")
t_match "another key cannot open what the first sealed" 'sealed with master key [0-9a-f]{8}, but the configured master key is [0-9a-f]{8}' "$err"
t_eq "the error shows no key material" no \
  "$(printf '%s' "$err" | grep -qE "${other:0:16}|${original:0:16}" && echo yes || echo no)"

put_key b64.key 600 "$(printf '%s' "$other" | perl -ne 'print pack("H*", $_)' | openssl base64 -A)"
use_key_file "$T/b64.key"
t_eq "a base64 key file works (fresh database)" ok "$(login_error "${DB}_2")"

use_key_file ''
t_eq "back on the default key, the first database works again" ok "$(login_error "$DB")"
t_eq "the default key file was not changed" "$original" "$(cat "$key")"

# --- rotation: a new key, the old one kept as previous until re-sealed --------

secret=$(q "SELECT warden.encrypt('app data', 'app')")
psql -X -q -c "ALTER SYSTEM SET warden.master_key_previous_files = '$T/same.hex'" >/dev/null
use_key_file "$T/other.key"
t_eq "with the old key as previous, old secrets still open" ok "$(login_error "$DB")"
resealed=$(q "SELECT warden.rotate_master_key()")
t_match "rotate_master_key re-seals every stored secret" '^[1-9][0-9]*$' "$resealed"
t_eq "a second rotation finds nothing left to re-seal" 0 "$(q "SELECT warden.rotate_master_key()")"
secret=$(q "SELECT warden.reencrypt('$secret', 'app')")
psql -X -q -c "ALTER SYSTEM RESET warden.master_key_previous_files" -c 'SELECT pg_reload_conf()' >/dev/null
sleep 0.3
t_eq "without the old key, everything re-sealed still opens" ok "$(login_error "$DB")"
t_eq "application data re-encrypted with reencrypt() opens" "app data" \
  "$(q "SELECT convert_from(warden.decrypt('$secret', 'app'), 'UTF8')")"
t_eq "the rotation is audited" 2 "$(q "SELECT count(*) FROM warden.audit_log WHERE event = 'master_key_rotated'")"
use_key_file ''

psql -X -q -c "ALTER SYSTEM RESET warden.master_key_file" \
  -c "ALTER SYSTEM RESET warden.master_key_previous_files" -c 'SELECT pg_reload_conf()' >/dev/null
for db in "$DB" "${DB}_2"; do
  psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null 2>&1 || true
done
t_done
