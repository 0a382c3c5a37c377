#!/usr/bin/env bash
# tests/integration/policy_changes.sh: a policy change committed in one
# session flips the cached decision of another session at once, and is
# announced with NOTIFY warden_policy carrying the new policy version.
. "$WARDEN_ROOT/tests/lib.sh"

DB=warden_it_policy
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

dropdb --if-exists "$DB" >/dev/null 2>&1
createdb "$DB"
q "CREATE EXTENSION warden" >/dev/null
q "SELECT warden.create_user('alice', 'long enough password'), warden.create_role('reader'),
          warden.add_permission('reader', 'document:read')" >/dev/null

# A long-lived session that keeps its decision cache between checks.
coproc CHECKER { psql -X -q -At -d "$DB" 2>&1; }
checker_pid=$CHECKER_PID
checker_in=${CHECKER[1]}
ask() {
  echo "$1" >&"${CHECKER[1]}"
  local line
  read -r -t 10 line <&"${CHECKER[0]}" || line="(no answer)"
  echo "$line"
}
check() { ask "SELECT warden.check('alice', 'document:read', 'document:1');"; }

t_eq "before the grant: denied" f "$(check)"
t_eq "asked again: denied, from the cache" f "$(check)"
q "SELECT warden.grant('alice', 'reader')" >/dev/null
t_eq "a grant committed elsewhere is seen at once" t "$(check)"
q "SELECT warden.deny('alice', 'document:read', 'document:1')" >/dev/null
t_eq "a deny committed elsewhere is seen at once" f "$(check)"
q "SELECT warden.remove_deny('alice', 'document:read', 'document:1')" >/dev/null
t_eq "its removal too" t "$(check)"
q "BEGIN; SELECT warden.revoke_grant('alice', 'reader'); ROLLBACK;" >/dev/null
t_eq "a rolled-back revocation changes nothing" t "$(check)"
q "SELECT warden.revoke_grant('alice', 'reader')" >/dev/null
t_eq "a committed revocation is seen at once" f "$(check)"

# NOTIFY: a listener hears each change with the new version.
log=$WARDEN_TEST_TMP/notify.log
psql -X -q -d "$DB" -c "LISTEN warden_policy" -c "SELECT pg_sleep(2)" -c "SELECT 1" >"$log" 2>&1 &
listener=$!
sleep 0.5
q "SELECT warden.grant('alice', 'reader', 'document:7')" >/dev/null
version=$(q "SELECT warden.policy_version()")
wait "$listener"
t_match "the listener heard warden_policy with the new version" \
  "Asynchronous notification \"warden_policy\" with payload \"$version\"" "$(cat "$log")"

exec {checker_in}>&-
wait "$checker_pid" 2>/dev/null || true
psql -X -q -d postgres -c "DROP DATABASE $DB" >/dev/null 2>&1 || true
t_done
