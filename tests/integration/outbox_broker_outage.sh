#!/usr/bin/env bash
# tests/integration/outbox_broker_outage.sh: RabbitMQ stops for 30 s while
# 10,000 messages are being published. Publishing transactions go on
# committing at their usual speed, the workers report the outage, and once
# the broker is back every committed message arrives: none missing, none
# that was not committed, duplicates only as repeats of a message_id.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

ob_setup
Q=it.outbox.outage
ob_queue "$Q" amq.topic:it.outage.# >/dev/null

# 100 transactions of 100 messages over 20 keys, about 40 s in all.
ob_publisher "$WARDEN_TEST_TMP/outage.pub.log" it.outage 100 100 20 0.4 &
pub=$!
wait_until 30 sh -c "test \"\$(psql -X -At -d $OB_DB -c \"SELECT count(*) FROM warden.outbox WHERE state = 'delivered'\")\" -ge 500"
t_pass "messages flow before the outage ($(oq "SELECT count(*) FROM warden.outbox WHERE state = 'delivered'") delivered)"

"$WARDEN_ROOT/scripts/stack" stop rabbitmq >/dev/null
down_at=$SECONDS
sent_at_stop=$(oq "SELECT count(*) FROM public.it_sent")
t_check "the workers notice the broker is gone" \
  wait_until 15 sh -c "test \"\$(psql -X -At -d $OB_DB -c 'SELECT count(*) FROM warden.outbox_workers() WHERE NOT connected')\" = 2"
t_match "and say why" 'connect|lost|closed' "$(oq "SELECT string_agg(last_error, '; ') FROM warden.outbox_workers()")"
sleep $((30 - (SECONDS - down_at)))
sent_at_start=$(oq "SELECT count(*) FROM public.it_sent")
pending_at_start=$(ob_pending)
t_check "publishing went on while the broker was down ($sent_at_stop -> $sent_at_start sent)" \
  test "$sent_at_start" -ge $((sent_at_stop + 3000))
t_check "the backlog waits in the outbox ($pending_at_start pending)" test "$pending_at_start" -ge 3000
"$WARDEN_ROOT/scripts/stack" start rabbitmq >/dev/null

wait "$pub"
t_eq "the publisher committed all 100 transactions" 0 "$?"
slowest=$(awk '{ if ($3 > m) m = $3 } END { print m + 0 }' "$WARDEN_TEST_TMP/outage.pub.log")
t_check "no publishing transaction waited for the broker (slowest ${slowest} ms)" test "$slowest" -lt 2000
t_eq "no publishing transaction failed" 0 "$(grep -c ERROR "$WARDEN_TEST_TMP/outage.pub.log")"
t_check "the workers reconnect" ob_wait_connected 60
t_check "the backlog drains" ob_wait_drained 120
ob_consume "$Q" 20000 5000 >"$WARDEN_TEST_TMP/outage.jsonl"
t_eq "10,000 committed" 10000 "$(oq "SELECT count(*) FROM public.it_sent")"
t_match "every committed message arrived, nothing else" '^missing 0 phantom 0 duplicates [0-9]+$' \
  "$(ob_compare "$WARDEN_TEST_TMP/outage.jsonl")"
t_eq "nothing dead: an outage costs no attempts" 0 "$(oq "SELECT count(*) FROM warden.outbox_dead")"

ob_delete_queue "$Q"
ob_teardown
t_done
