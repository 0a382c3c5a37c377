# tests/lib_outbox.sh: what the outbox integration tests share (sourced
# after tests/lib.sh).
#
# The test stack's workers serve the database "postgres" and deliver to the
# stack's RabbitMQ (scripts/stack writes warden.outbox_databases and
# warden.amqp_url). Each test installs warden there afresh, lowers the retry
# settings so that failures play out in seconds, and records every message it
# publishes in public.it_sent in the same transaction: the committed rows of
# it_sent are the truth a test compares the broker's messages with.
#
# Messages are read from the broker with build/tools/amqp_tap, a rabbitmq-c
# consumer printing one JSON object per message.

OB_DB=postgres
OB_TAP=$WARDEN_ROOT/build/tools/amqp_tap

oq() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$OB_DB" -c "$1"; }

# ob_setup: warden installed afresh, fast retries, an empty it_sent, and
# both workers connected to the broker.
ob_setup() {
  oq "DROP EXTENSION IF EXISTS warden CASCADE" >/dev/null
  oq "CREATE EXTENSION warden" >/dev/null
  oq "ALTER SYSTEM SET warden.outbox_retry_min = '100ms'" >/dev/null
  oq "ALTER SYSTEM SET warden.outbox_retry_max = '1s'" >/dev/null
  oq "ALTER SYSTEM SET warden.outbox_max_attempts = 3" >/dev/null
  oq "ALTER SYSTEM SET warden.outbox_confirm_timeout = '5s'" >/dev/null
  oq "SELECT pg_reload_conf()" >/dev/null
  oq "DROP TABLE IF EXISTS public.it_sent" >/dev/null
  oq "CREATE TABLE public.it_sent (message_id uuid PRIMARY KEY, routing_key text, seq bigint)" >/dev/null
  ob_wait_connected 30 || echo "# outbox workers did not connect: $(oq "SELECT string_agg(state || ' ' || coalesce(last_error, ''), '; ') FROM warden.outbox_workers()")"
}

ob_teardown() {
  local s
  for s in retry_min retry_max max_attempts confirm_timeout retention; do
    oq "ALTER SYSTEM RESET warden.outbox_$s" >/dev/null 2>&1
  done
  oq "SELECT pg_reload_conf()" >/dev/null 2>&1
  oq "DROP TABLE IF EXISTS public.it_sent" >/dev/null 2>&1
  oq "DROP EXTENSION IF EXISTS warden CASCADE" >/dev/null 2>&1
}

# ob_wait_connected SECONDS: every worker of the database is connected.
ob_connected() {
  [ "$(oq "SELECT count(*) FILTER (WHERE connected) = count(*) AND count(*) > 0 FROM warden.outbox_workers()")" = t ]
}
ob_wait_connected() { wait_until "$1" ob_connected; }

# ob_pending: committed messages not yet delivered (nor dead).
ob_pending() { oq "SELECT count(*) FROM warden.outbox WHERE state = 'pending'"; }
ob_drained() { [ "$(ob_pending 2>/dev/null)" = 0 ]; }
ob_wait_drained() { wait_until "$1" ob_drained; }

# ob_queue NAME [--max-length N] BIND...: a durable queue, emptied, bound to
# each EXCHANGE:ROUTING_KEY; with --max-length it holds at most N messages
# and the broker nacks the rest.
ob_queue() {
  local q=$1 b args=()
  shift
  if [ "${1:-}" = --max-length ]; then
    args+=(--max-length "$2")
    shift 2
  fi
  for b in "$@"; do args+=(--bind "$b"); done
  "$OB_TAP" --url "$WARDEN_AMQP_URL" --queue "$q" "${args[@]}" --declare-only --purge
}

ob_delete_queue() {
  amqp-delete-queue --url "$WARDEN_AMQP_URL" -q "$1" >/dev/null 2>&1 || true
}

# ob_consume QUEUE COUNT [IDLE_MS [TAP-ARGS...]]: prints the queue's
# messages (JSON lines), stopping after COUNT or when none came for IDLE_MS
# (default 3000). TAP-ARGS repeat how the queue was declared (--max-length).
ob_consume() {
  local q=$1 n=$2 idle=${3:-3000}
  shift 3 2>/dev/null || shift $#
  "$OB_TAP" --url "$WARDEN_AMQP_URL" --queue "$q" --count "$n" \
    --idle-ms "$idle" --timeout-ms 180000 "$@" 2>"$WARDEN_TEST_TMP/amqp_tap.err"
}

# ob_publisher FILE ROUTING_PREFIX BATCHES PER_BATCH KEYS [PAUSE]:
# publishes BATCHES transactions of PER_BATCH messages to amq.topic, routing
# keys ROUTING_PREFIX.0 .. ROUTING_PREFIX.(KEYS-1), recording each in
# it_sent, PAUSE seconds apart. A transaction that fails (the server
# restarting) is tried again, so the run ends with every batch committed;
# its log goes to FILE, with one line "batch B ms" per commit.
ob_publisher() {
  local log=$1 prefix=$2 batches=$3 per=$4 keys=$5 pause=${6:-0} b tries t0
  for ((b = 1; b <= batches; b++)); do
    tries=0
    t0=$(date +%s%N)
    until psql -X -q -At -v ON_ERROR_STOP=1 -d "$OB_DB" -c "
        INSERT INTO public.it_sent
        SELECT warden.publish('amq.topic', '$prefix.' || (i % $keys),
                              jsonb_build_object('batch', $b, 'i', i)), '$prefix.' || (i % $keys), $b
          FROM generate_series(1, $per) AS i" >>"$log" 2>&1; do
      tries=$((tries + 1))
      [ "$tries" -lt 300 ] || { echo "publisher: batch $b failed 300 times" >>"$log"; return 1; }
      sleep 0.2
      t0=$(date +%s%N)
    done
    echo "batch $b $((($(date +%s%N) - t0) / 1000000)) ms" >>"$log"
    sleep "$pause"
  done
}

# ob_compare CONSUMED_FILE: compares the broker's messages with it_sent.
# Prints "missing N phantom N duplicates N"; duplicates are extra copies of
# a message_id that was sent (allowed: at least once).
ob_compare() {
  local got=$WARDEN_TEST_TMP/ob_got.txt sent=$WARDEN_TEST_TMP/ob_sent.txt
  jq -r '.message_id' <"$1" | sort >"$got"
  oq "SELECT message_id FROM public.it_sent" | sort >"$sent"
  echo "missing $(comm -23 "$sent" <(sort -u "$got") | wc -l)" \
    "phantom $(comm -13 "$sent" <(sort -u "$got") | wc -l)" \
    "duplicates $(($(wc -l <"$got") - $(sort -u "$got" | wc -l)))"
}
