#!/usr/bin/env bash
# tests/integration/outbox_delivery.sh: warden.publish() to RabbitMQ, read
# back with real AMQP clients (amqp_tap on rabbitmq-c, and amqp-consume):
# exactly the committed messages arrive, with their properties and headers;
# order per key follows commit order, also when a transaction that
# published first commits last; concurrent publishers keep each key's order;
# transactions committing out of the order they started lose nothing; a
# missing exchange and an unroutable message end in dead letters without
# holding up other keys; delivered rows are purged; idle workers use no CPU.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

ob_setup
t_check "the workers connect to the broker" ob_connected

# --- committed, rolled back, savepoints; properties and headers ----------
Q=it.outbox.props
ob_queue "$Q" amq.topic:it.props.# >/dev/null
before=$(date +%s)
oq "BEGIN;
    SELECT warden.publish('amq.topic', 'it.props.a', '{\"n\": 1, \"text\": \"héllo\"}',
        '{\"tenant\": \"acme\", \"count\": 7, \"ratio\": 0.5, \"ok\": true, \"none\": null,
          \"nested\": {\"list\": [1, \"two\", false]}}',
        '00000000-0000-4000-8000-000000000001');
    SAVEPOINT s; SELECT warden.publish('amq.topic', 'it.props.a', '{\"n\": \"savepoint\"}'); ROLLBACK TO s;
    SELECT warden.publish('amq.topic', 'it.props.b', '{\"n\": 2}');
    COMMIT;" >/dev/null
oq "BEGIN; SELECT warden.publish('amq.topic', 'it.props.a', '{\"n\": \"rolled back\"}'); ROLLBACK;" >/dev/null
psql -X -q -d "$OB_DB" -c "BEGIN; SELECT warden.publish('amq.topic', 'it.props.a', '{\"n\": \"failed\"}'); SELECT 1/0; COMMIT;" >/dev/null 2>&1
oq "SELECT warden.publish('amq.topic', 'it.props.a', '{\"n\": 3}')" >/dev/null
ob_consume "$Q" 10 2000 >"$WARDEN_TEST_TMP/props.jsonl"
t_eq "exactly the three committed messages arrive" "1 2 3" \
  "$(jq -r '.body | fromjson | .n' "$WARDEN_TEST_TMP/props.jsonl" | sort | tr '\n' ' ' | sed 's/ $//')"
first=$(jq -c 'select(.message_id == "00000000-0000-4000-8000-000000000001")' "$WARDEN_TEST_TMP/props.jsonl")
t_eq "message_id is the one given to publish()" 00000000-0000-4000-8000-000000000001 "$(jq -r .message_id <<<"$first")"
t_eq "content type application/json" application/json "$(jq -r .content_type <<<"$first")"
t_eq "persistent (delivery mode 2)" 2 "$(jq -r .delivery_mode <<<"$first")"
t_eq "exchange and routing key" "amq.topic it.props.a" "$(jq -r '"\(.exchange) \(.routing_key)"' <<<"$first")"
ts=$(jq -r .timestamp <<<"$first")
t_check "timestamp is the publish time ($ts, test began $before)" test "$ts" -ge "$((before - 1))" -a "$ts" -le "$(($(date +%s) + 1))"
t_eq "headers arrive with their types" \
  '{"count":7,"nested":{"list":[1,"two",false]},"none":null,"ok":true,"ratio":0.5,"tenant":"acme"}' \
  "$(jq -cS .headers <<<"$first")"
t_eq "the body is the payload's JSON text" '{"n": 1, "text": "héllo"}' "$(jq -r .body <<<"$first")"
t_eq "rows are marked delivered after the ack" "3 0" \
  "$(oq "SELECT count(*) FILTER (WHERE state = 'delivered' AND delivered_at >= committed_at), count(*) FILTER (WHERE state <> 'delivered') FROM warden.outbox" | tr '|' ' ')"

# amqp-consume, the stock command-line client, sees the same.
oq "SELECT warden.publish('amq.topic', 'it.props.c', '{\"via\": \"amqp-consume\"}')" >/dev/null
out=$(timeout 20 amqp-consume --url "$WARDEN_AMQP_URL" -q "$Q" -c 1 cat 2>&1)
t_eq "amqp-consume receives a published message" '{"via": "amqp-consume"}' "$out"
ob_delete_queue "$Q"

# --- a transaction that published first and commits last comes last -----
# Delivery is paused (no broker URL) so that the worker sees every row at
# once; a relay ordering by the time of publish() would send "slow" first.
Q=it.outbox.order
ob_queue "$Q" amq.topic:it.order.# >/dev/null
oq "ALTER SYSTEM SET warden.amqp_url = ''" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null
wait_until 10 sh -c "test \"\$(psql -X -At -d $OB_DB -c \"SELECT count(*) FROM warden.outbox_workers() WHERE connected\")\" = 0"
psql -X -q -At -d "$OB_DB" -c "BEGIN; SELECT warden.publish('amq.topic', 'it.order.k', '{\"m\": \"slow\"}'); SELECT pg_sleep(2); COMMIT;" >/dev/null 2>&1 &
slow=$!
sleep 0.5
for i in 1 2 3 4 5; do
  oq "SELECT warden.publish('amq.topic', 'it.order.k', '{\"m\": \"fast-$i\"}')" >/dev/null
done
wait "$slow"
t_eq "the slow transaction commits" 0 "$?"
oq "ALTER SYSTEM RESET warden.amqp_url" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null
ob_consume "$Q" 6 3000 >"$WARDEN_TEST_TMP/order.jsonl"
t_eq "per key, commit order: the late committer last" "fast-1 fast-2 fast-3 fast-4 fast-5 slow" \
  "$(jq -r '.body | fromjson | .m' "$WARDEN_TEST_TMP/order.jsonl" | tr '\n' ' ' | sed 's/ $//')"
ob_delete_queue "$Q"

# --- concurrent publishers: each key in commit order ----------------------
# A counter row per key, updated in the publishing transaction, numbers the
# key's transactions in commit order (its row lock serialises them).
Q=it.outbox.concurrent
ob_queue "$Q" amq.topic:it.conc.# >/dev/null
oq "DROP TABLE IF EXISTS public.it_counter; CREATE TABLE public.it_counter (key text PRIMARY KEY, n int NOT NULL DEFAULT 0);
    INSERT INTO public.it_counter SELECT 'it.conc.' || i, 0 FROM generate_series(0, 9) i" >/dev/null
for s in 1 2 3 4; do
  {
    for ((t = 0; t < 150; t++)); do
      k=$(((s * 7 + t * 3) % 10))
      echo "BEGIN;
WITH c AS (UPDATE public.it_counter SET n = n + 1 WHERE key = 'it.conc.$k' RETURNING key, n)
INSERT INTO public.it_sent SELECT warden.publish('amq.topic', key, jsonb_build_object('seq', n)), key, n FROM c;
COMMIT;"
    done
  } >"$WARDEN_TEST_TMP/conc.$s.sql"
  psql -X -q -v ON_ERROR_STOP=1 -d "$OB_DB" -f "$WARDEN_TEST_TMP/conc.$s.sql" >"$WARDEN_TEST_TMP/conc.$s.log" 2>&1 &
done
wait
t_eq "600 messages committed by 4 sessions" 600 "$(oq "SELECT count(*) FROM public.it_sent WHERE routing_key LIKE 'it.conc.%'")"
ob_consume "$Q" 600 5000 >"$WARDEN_TEST_TMP/conc.jsonl"
t_eq "all 600 arrive" 600 "$(wc -l <"$WARDEN_TEST_TMP/conc.jsonl")"
bad=$(jq -r '"\(.routing_key) \(.body | fromjson | .seq)"' "$WARDEN_TEST_TMP/conc.jsonl" |
  awk '{ if ($2 != last[$1] + 1) { print $1 " got " $2 " after " last[$1]; bad++ } last[$1] = $2 } END { print bad + 0 }' | tail -1)
t_eq "every key's messages arrive in commit order, none twice" 0 "$bad"
t_eq "both workers delivered" 2 "$(oq "SELECT count(*) FROM warden.outbox_workers() WHERE delivered > 0")"
ob_delete_queue "$Q"

# --- transactions committing out of the order they began lose nothing ---
# Each transaction draws a number from a sequence when it starts and
# commits after a random pause: later starters often commit first, the case
# that makes a "last id sent" relay skip rows.
Q=it.outbox.late
ob_queue "$Q" amq.topic:it.late.# >/dev/null
oq "DROP SEQUENCE IF EXISTS public.it_began; CREATE SEQUENCE public.it_began" >/dev/null
for s in 1 2 3 4; do
  {
    for ((t = 0; t < 100; t++)); do
      echo "BEGIN;
INSERT INTO public.it_sent SELECT warden.publish('amq.topic', 'it.late.' || ($t % 5), jsonb_build_object('began', nextval('public.it_began'))), 'it.late', 0;
SELECT pg_sleep(random() * 0.03);
COMMIT;"
    done
  } >"$WARDEN_TEST_TMP/late.$s.sql"
  psql -X -q -v ON_ERROR_STOP=1 -d "$OB_DB" -f "$WARDEN_TEST_TMP/late.$s.sql" >/dev/null 2>&1 &
done
wait
ob_consume "$Q" 400 5000 >"$WARDEN_TEST_TMP/late.jsonl"
inversions=$(jq -r '.body | fromjson | .began' "$WARDEN_TEST_TMP/late.jsonl" |
  awk '{ if ($1 < max) n++; if ($1 > max) max = $1 } END { print n + 0 }')
t_check "transactions did commit out of the order they began ($inversions inversions)" test "$inversions" -gt 0
jq -c 'select(.routing_key | startswith("it.late."))' "$WARDEN_TEST_TMP/late.jsonl" >"$WARDEN_TEST_TMP/late.only.jsonl"
oq "DELETE FROM public.it_sent WHERE routing_key <> 'it.late'" >/dev/null
t_eq "all 400 arrive, none missing, none extra" "missing 0 phantom 0 duplicates 0" \
  "$(ob_compare "$WARDEN_TEST_TMP/late.only.jsonl")"
ob_delete_queue "$Q"

# --- a nack means retry, and nothing later with the key overtakes --------
# A queue that holds 3 messages and nacks the rest (x-overflow
# reject-publish): m4 is nacked and retried with backoff; m5 and m6, sent in
# the same batch, go again after it without counting an attempt.
Q=it.outbox.full
ob_queue "$Q" --max-length 3 amq.topic:it.full.k >/dev/null
oq "ALTER SYSTEM SET warden.outbox_max_attempts = 20" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null
oq "SELECT warden.publish('amq.topic', 'it.full.k', jsonb_build_object('m', i)) FROM generate_series(1, 6) AS i" >/dev/null
wait_until 10 sh -c "test \"\$(psql -X -At -d $OB_DB -c \"SELECT count(*) FROM warden.outbox WHERE routing_key = 'it.full.k' AND last_error LIKE '%nack%'\")\" -ge 1"
t_match "the broker's nack is recorded as the failure" 'nack' \
  "$(oq "SELECT last_error FROM warden.outbox WHERE payload->>'m' = '4' AND routing_key = 'it.full.k'")"
ob_consume "$Q" 6 8000 --max-length 3 >"$WARDEN_TEST_TMP/full.jsonl"
t_eq "once the queue has room, the rest arrive, in order, once each" "1 2 3 4 5 6" \
  "$(jq -r '.body | fromjson | .m' "$WARDEN_TEST_TMP/full.jsonl" | tr '\n' ' ' | sed 's/ $//')"
t_match "the nacked message counted its attempts" '^[2-9]|^1[0-9]' \
  "$(oq "SELECT attempts FROM warden.outbox WHERE payload->>'m' = '4' AND routing_key = 'it.full.k'")"
t_eq "the messages held behind it counted one attempt, their delivery" "1 1" \
  "$(oq "SELECT string_agg(attempts::text, ' ' ORDER BY id) FROM warden.outbox WHERE payload->>'m' IN ('5', '6') AND routing_key = 'it.full.k'")"
oq "ALTER SYSTEM SET warden.outbox_max_attempts = 3" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null
ob_delete_queue "$Q"

# --- dead letters: a missing exchange and an unroutable message ----------
Q=it.outbox.dead
ob_queue "$Q" amq.topic:it.dead.ok >/dev/null
oq "SELECT warden.publish('it.no.such.exchange', 'it.dead.x', '{\"m\": \"lost-exchange\"}', '{}', '00000000-0000-4000-8000-00000000dead');
    SELECT warden.publish('it.no.such.exchange', 'it.dead.x', '{\"m\": \"behind it\"}');
    SELECT warden.publish('amq.topic', 'it.dead.unbound', '{\"m\": \"unroutable\"}', '{}', '00000000-0000-4000-8000-0000000000ff');
    SELECT warden.publish('amq.topic', 'it.dead.ok', '{\"m\": \"other key\"}');" >/dev/null
start=$SECONDS
ob_consume "$Q" 1 5000 >"$WARDEN_TEST_TMP/dead_ok.jsonl"
t_eq "another key is delivered at once" "other key" "$(jq -r '.body | fromjson | .m' "$WARDEN_TEST_TMP/dead_ok.jsonl")"
t_check "without waiting for the failing keys ($((SECONDS - start)) s)" test $((SECONDS - start)) -le 3
dead_count() { oq "SELECT count(*) FROM warden.outbox_dead"; }
t_check "both failing messages end in outbox_dead" wait_until 30 sh -c "test \"\$(psql -X -At -d $OB_DB -c 'SELECT count(*) FROM warden.outbox_dead')\" -ge 3"
t_eq "a missing exchange: its messages, with the error and attempts" \
  'lost-exchange|3|exchange "it.no.such.exchange" does not exist' \
  "$(oq "SELECT payload->>'m', attempts, last_error FROM warden.outbox_dead WHERE message_id = '00000000-0000-4000-8000-00000000dead'")"
t_match "an unroutable message names the broker's reason" '^3\|unroutable: 312 NO_ROUTE' \
  "$(oq "SELECT attempts, last_error FROM warden.outbox_dead WHERE message_id = '00000000-0000-4000-8000-0000000000ff'")"
t_eq "the message behind the dead one follows it to dead letters" "behind it" \
  "$(oq "SELECT payload->>'m' FROM warden.outbox_dead WHERE payload->>'m' = 'behind it'")"
t_match "outbox_stats counts dead and failed attempts" '^0\|3\|t$' \
  "$(oq "SELECT pending, dead, failed_total >= 6 FROM warden.outbox_stats()")"
# Bound now: a retry delivers it.
"$OB_TAP" --url "$WARDEN_AMQP_URL" --queue "$Q" --bind amq.topic:it.dead.unbound --declare-only >/dev/null
t_eq "outbox_retry sends a dead message again" 1 \
  "$(oq "SELECT warden.outbox_retry('00000000-0000-4000-8000-0000000000ff')")"
ob_consume "$Q" 1 5000 >"$WARDEN_TEST_TMP/dead_retry.jsonl"
t_eq "and now it arrives" unroutable "$(jq -r '.body | fromjson | .m' "$WARDEN_TEST_TMP/dead_retry.jsonl")"
t_eq "outbox_discard removes the rest" 2 \
  "$(oq "SELECT sum(warden.outbox_discard(message_id)) FROM (SELECT DISTINCT message_id FROM warden.outbox_dead) d")"
t_eq "leaving no dead letters" 0 "$(oq "SELECT count(*) FROM warden.outbox_dead")"
ob_delete_queue "$Q"

# --- purge: delivered rows go after the retention -------------------------
oq "ALTER SYSTEM SET warden.outbox_retention = 0" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null
t_check "delivered rows are purged after warden.outbox_retention" \
  wait_until 20 sh -c "test \"\$(psql -X -At -d $OB_DB -c \"SELECT count(*) FROM warden.outbox WHERE state = 'delivered'\")\" = 0"

oq "ALTER SYSTEM RESET warden.outbox_retention" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null

# --- idle workers sleep ---------------------------------------------------
pids=$(oq "SELECT string_agg(pid::text, ' ') FROM warden.outbox_workers()")
cpu() { local p t=0; for p in $pids; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo "$t"; }
c0=$(cpu)
sleep 5
c1=$(cpu)
t_check "idle workers use no CPU ($((c1 - c0)) ticks in 5 s)" test $((c1 - c0)) -le 2

# --- SIGTERM: a worker stops cleanly and the postmaster starts it again ---
Q=it.outbox.term
ob_queue "$Q" amq.topic:it.term.# >/dev/null
read -r victim other <<<"$(oq "SELECT string_agg(pid::text, ' ' ORDER BY worker) FROM warden.outbox_workers()")"
oq "SELECT pg_terminate_backend($victim)" >/dev/null
t_check "a worker stopped with SIGTERM is started again" \
  wait_until 20 sh -c "test \"\$(psql -X -At -d $OB_DB -c 'SELECT count(*) FROM warden.outbox_workers() WHERE connected AND pid <> $victim')\" = 2"
t_eq "without a crash restart: the other worker runs on" "$other" \
  "$(oq "SELECT pid FROM warden.outbox_workers() WHERE pid = $other")"
t_match "the server log shows a clean exit" 'exit code 1' \
  "$(grep -a "(PID $victim) exited" "$("$WARDEN_ROOT/scripts/stack" logs postgresql)" | tail -1)"
oq "SELECT warden.publish('amq.topic', 'it.term.' || i, jsonb_build_object('i', i)) FROM generate_series(1, 20) AS i" >/dev/null
t_eq "and both deliver again" 20 "$(ob_consume "$Q" 20 5000 | wc -l)"
ob_delete_queue "$Q"

oq "DROP TABLE IF EXISTS public.it_counter; DROP SEQUENCE IF EXISTS public.it_began" >/dev/null
ob_teardown
t_done
