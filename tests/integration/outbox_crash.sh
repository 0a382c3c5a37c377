#!/usr/bin/env bash
# tests/integration/outbox_crash.sh: an outbox worker killed with SIGKILL
# in the middle of a batch, then PostgreSQL stopped in immediate mode, both
# while 10,000 messages are being published. The postmaster restarts the
# worker (after the crash restart a SIGKILL forces), recovery keeps every
# committed row, and every committed message arrives: none missing, none
# that was not committed, duplicates only as repeats of a message_id.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

ob_setup
Q=it.outbox.crash
ob_queue "$Q" amq.topic:it.crash.# >/dev/null

ob_publisher "$WARDEN_TEST_TMP/crash.pub.log" it.crash 100 100 20 0.15 &
pub=$!

# Catch a worker between publishing and recording the broker's acks.
victim=
for ((i = 0; i < 400; i++)); do
  victim=$(oq "SELECT pid FROM warden.outbox_workers() WHERE state = 'publishing' LIMIT 1" 2>/dev/null)
  [ -z "$victim" ] || break
  sleep 0.02
done
t_check "a worker was caught publishing (pid ${victim:-none})" test -n "$victim"
delivered_before=$(oq "SELECT count(*) FROM warden.outbox WHERE state = 'delivered'" 2>/dev/null)
killed_at=$(oq "SELECT clock_timestamp()")
[ -n "$victim" ] && kill -KILL "$victim"
t_check "the postmaster restarts the killed worker" \
  wait_until 60 sh -c "test \"\$(psql -X -At -d $OB_DB -c \"SELECT count(*) FROM warden.outbox_workers() WHERE connected AND started_at > '$killed_at' AND pid <> ${victim:-0}\" 2>/dev/null)\" = 2"
t_match "and the server log shows the kill" 'terminated by signal 9' \
  "$(grep -a "warden outbox worker" "$("$WARDEN_ROOT/scripts/stack" logs postgresql)" | grep -a 'signal 9' | tail -1)"

wait_until 30 sh -c "test \"\$(psql -X -At -d $OB_DB -c \"SELECT count(*) FROM warden.outbox WHERE state = 'delivered'\" 2>/dev/null)\" -gt ${delivered_before:-0}"
WARDEN_STACK_PG_STOP_MODE=immediate "$WARDEN_ROOT/scripts/stack" restart postgresql >/dev/null
t_pass "PostgreSQL stopped in immediate mode and started again"
t_check "the workers come back" ob_wait_connected 60

wait "$pub"
t_eq "the publisher committed all 100 transactions" 0 "$?"
t_check "the backlog drains" ob_wait_drained 120
ob_consume "$Q" 20000 5000 >"$WARDEN_TEST_TMP/crash.jsonl"
t_eq "10,000 committed" 10000 "$(oq "SELECT count(*) FROM public.it_sent")"
t_match "every committed message arrived, nothing else" '^missing 0 phantom 0 duplicates [0-9]+$' \
  "$(ob_compare "$WARDEN_TEST_TMP/crash.jsonl")"
t_eq "nothing dead" 0 "$(oq "SELECT count(*) FROM warden.outbox_dead")"

ob_delete_queue "$Q"
ob_teardown
t_done
