#!/usr/bin/env bash
# tests/integration/outbox_steady.sh: under steady load the outbox does not
# bloat. 60,000 messages are published at about 2,000 a second with a
# retention of one second: the workers purge delivered rows in small
# batches and autovacuum (woken every 2 s here) lets their space be used
# again, so the table and its indexes stay a fraction of what 60,000 rows
# would take, and the size stops growing once the load is steady.
. "$WARDEN_ROOT/tests/lib.sh"
. "$WARDEN_ROOT/tests/lib_outbox.sh"

ob_setup
Q=it.outbox.steady
ob_queue "$Q" amq.topic:it.steady.# >/dev/null
oq "ALTER SYSTEM SET warden.outbox_retention = '1s'" >/dev/null
oq "ALTER SYSTEM SET autovacuum_naptime = '2s'" >/dev/null
oq "SELECT pg_reload_conf()" >/dev/null

size() { oq "SELECT pg_total_relation_size('warden.outbox')"; }
PAD=$(printf 'x%.0s' $(seq 1 200))
samples=()
for ((round = 1; round <= 30; round++)); do
  oq "SELECT warden.publish('amq.topic', 'it.steady.' || (i % 50), jsonb_build_object('pad', '$PAD', 'i', i))
        FROM generate_series(1, 2000) AS i" >/dev/null
  sleep 1
  ((round % 5 == 0)) && samples+=("$(size)")
done
t_check "the load was delivered" ob_wait_drained 60
# What 60,000 of these rows take as bare tuples, without page overhead or
# indexes: far less than the table would need if space were never reused.
full=$(oq "SELECT round(60000 * avg(pg_column_size(o.*))) FROM warden.outbox o")
echo "# outbox size every 5 s: ${samples[*]} bytes (60,000 bare rows: $full)"
# The smaller of the last two samples: one may catch a purge not yet vacuumed.
last=$((samples[-1] < samples[-2] ? samples[-1] : samples[-2]))
t_check "the outbox stays far below the size of everything published ($last bytes)" \
  test "$last" -lt $((full / 2))
t_check "and stops growing under steady load (${samples[2]} -> ${samples[-1]})" \
  test "${samples[-1]}" -le $((samples[2] * 3 / 2))
t_eq "every message arrived" 60000 "$(ob_consume "$Q" 60000 5000 | wc -l)"

oq "ALTER SYSTEM RESET autovacuum_naptime" >/dev/null
ob_delete_queue "$Q"
ob_teardown
t_done
