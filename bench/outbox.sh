#!/usr/bin/env bash
# bench/outbox.sh: the outbox section of make bench.
#
# The reference is build/bench/amqp_ref: a plain rabbitmq-c publisher with
# publisher confirms on one connection, persistent messages of the same
# size (256-byte JSON bodies) and properties (message_id, content type,
# timestamp, a header), mandatory flag, batches of warden.outbox_batch_size
# (500) confirmed at a time, to the same durable queue. It is the ceiling:
# what RabbitMQ on this machine accepts from one well-written publisher.
#
# Each repetition:
#   e2e      BENCH_OUTBOX_SESSIONS (4) pgbench sessions commit transactions
#            of 10 warden.publish() calls each for N seconds while the two
#            workers deliver; then the backlog drains. Messages per second
#            from the first commit to the last broker ack (committed_at and
#            delivered_at of the rows); goal: >= 50% of amqp_ref's rate.
#   latency  pgbench at a fixed 1,000 transactions per second, one message
#            each, for N seconds; p50 and p99 of delivered_at - committed_at
#            (commit to broker ack: committed_at is taken just before the
#            commit record is flushed, so the flush counts too), next to
#            amqp_ref publishing at 1,000 messages/s (publish to ack); goal:
#            p99 under 25 ms, quoted as 25 ms / p99 >= 1.

source "$WARDEN_ROOT/bench/lib.sh"

DB=postgres # the database the stack's workers serve (scripts/stack)
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
SESSIONS=${BENCH_OUTBOX_SESSIONS:-4}
SIZE=256
BATCH=500
RATE=1000
QUEUE=bench.outbox
REF=$WARDEN_ROOT/build/bench/amqp_ref
TAP=$WARDEN_ROOT/build/tools/amqp_tap
W=$BENCH_TMP/outbox
mkdir -p "$W"

[ -x "$REF" ] && [ -x "$TAP" ] || bench_die "build/bench/amqp_ref or build/tools/amqp_tap is missing (make tools)"
[[ $SESSIONS =~ ^[1-9][0-9]*$ ]] ||
  bench_die "BENCH_OUTBOX_SESSIONS must be a positive whole number, not '$SESSIONS'"

bench_psql "$DB" -c 'SET client_min_messages = warning' -c 'DROP EXTENSION IF EXISTS warden CASCADE' \
  -c 'CREATE EXTENSION warden' >/dev/null || bench_die "could not install warden in $DB"
bench_psql "$DB" -c "ALTER SYSTEM SET warden.outbox_batch_size = $BATCH" \
  -c "ALTER SYSTEM SET warden.outbox_retention = '1d'" -c 'SELECT pg_reload_conf()' >/dev/null
for _ in $(seq 1 300); do
  [ "$(bench_psql "$DB" -At -c 'SELECT count(*) FILTER (WHERE connected) FROM warden.outbox_workers()')" -ge 1 ] && break
  sleep 0.1
done
"$TAP" --url "$WARDEN_AMQP_URL" --queue "$QUEUE" --bind "amq.topic:bench.#" --declare-only --purge \
  >/dev/null 2>&1 || bench_die "could not declare the queue $QUEUE"

purge_queue() {
  "$TAP" --url "$WARDEN_AMQP_URL" --queue "$QUEUE" --declare-only --purge >/dev/null 2>&1 ||
    bench_die "could not purge $QUEUE"
}

# A 256-byte payload: '{"pad": "' + 245 x's + '"}' as jsonb renders it.
PAD=$(printf 'x%.0s' $(seq 1 $((SIZE - 11))))
cat >"$W/e2e.sql" <<EOF
SELECT warden.publish('amq.topic', 'bench.e2e.' || (random() * 99)::int, '{"pad": "$PAD"}', '{"source": "bench"}')
  FROM generate_series(1, 10);
EOF
cat >"$W/rate.sql" <<EOF
SELECT warden.publish('amq.topic', 'bench.rate.' || (random() * 99)::int, '{"pad": "$PAD"}', '{"source": "bench"}');
EOF
[ "$(bench_psql "$DB" -At -c "SELECT octet_length('{\"pad\": \"$PAD\"}'::jsonb::text)")" = "$SIZE" ] ||
  bench_die "the payload is not $SIZE bytes"

wait_drained() {
  local i
  for i in $(seq 1 1200); do
    [ "$(bench_psql "$DB" -At -c "SELECT count(*) FROM warden.outbox WHERE state = 'pending'")" = 0 ] && return 0
    sleep 0.1
  done
  bench_die "the outbox did not drain within 120 s"
}

# pgbench SCRIPT ARGS...: runs, dies on failure.
run_pgbench() {
  local script=$1 out
  shift
  if ! out=$("$PGBENCH" -n -M prepared -f "$script" "$@" "$DB" 2>&1); then
    printf '%s\n' "$out" >&2
    bench_die "pgbench failed on $script"
  fi
}

e2e=() ref=() p50=() p99=() ref_p50=() ref_p99=() margin=() goal_p99=()
for ((i = 1; i <= REPS; i++)); do
  # reference throughput
  purge_queue
  out=$("$REF" --url "$WARDEN_AMQP_URL" --exchange amq.topic --routing-key bench.ref --routing-keys 100 \
    --size "$SIZE" --batch "$BATCH" --messages 100000000 --seconds "$SECS") || bench_die "amqp_ref failed: $out"
  r=$(sed -nE 's/.*msgs_per_sec=([0-9.]+).*/\1/p' <<<"$out")
  [[ $(sed -nE 's/.*failed=([0-9]+).*/\1/p' <<<"$out") == 0 && -n $r ]] || bench_die "amqp_ref: $out"
  ref+=("$r")

  # warden end to end
  purge_queue
  bench_psql "$DB" -c 'TRUNCATE warden.outbox' >/dev/null
  run_pgbench "$W/e2e.sql" -c "$SESSIONS" -j "$SESSIONS" -T "$SECS"
  wait_drained
  r=$(bench_psql "$DB" -At -c "SELECT round(count(*) / extract(epoch FROM max(delivered_at) - min(committed_at)))
                                 FROM warden.outbox WHERE state = 'delivered'")
  n=$(bench_psql "$DB" -At -c "SELECT count(*) FROM warden.outbox")
  e2e+=("$r")

  # latency at a fixed rate: warden, then the reference
  purge_queue
  bench_psql "$DB" -c 'TRUNCATE warden.outbox' >/dev/null
  run_pgbench "$W/rate.sql" -c 2 -j 2 -R "$RATE" -T "$SECS"
  wait_drained
  lat=$(bench_psql "$DB" -At -F ' ' -c "
    SELECT round(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY delivered_at - committed_at))::numeric, 3),
           round(1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY delivered_at - committed_at))::numeric, 3)
      FROM warden.outbox WHERE state = 'delivered'")
  p50+=("${lat% *}")
  p99+=("${lat#* }")
  margin+=("$(awk -v p="${lat#* }" 'BEGIN { printf "%.4f", 25 / p }')")
  goal_p99+=(1)
  purge_queue
  out=$("$REF" --url "$WARDEN_AMQP_URL" --exchange amq.topic --routing-key bench.ref --routing-keys 100 \
    --size "$SIZE" --batch "$BATCH" --rate "$RATE" --seconds "$SECS") || bench_die "amqp_ref failed: $out"
  ref_p50+=("$(sed -nE 's/.*p50_ms=([0-9.]+).*/\1/p' <<<"$out")")
  ref_p99+=("$(sed -nE 's/.*p99_ms=([0-9.]+).*/\1/p' <<<"$out")")

  printf '  %d/%d messages/s: amqp_ref %s | warden end to end %s (%s messages) | at %d/s commit->ack p50 %s ms p99 %s ms, amqp_ref publish->ack p50 %s ms p99 %s ms\n' \
    "$i" "$REPS" "$(bench_fmt "${ref[-1]}")" "$(bench_fmt "${e2e[-1]}")" "$n" "$RATE" \
    "${p50[-1]}" "${p99[-1]}" "${ref_p50[-1]}" "${ref_p99[-1]}"
done
purge_queue
bench_psql "$DB" -c 'ALTER SYSTEM RESET warden.outbox_batch_size' -c 'ALTER SYSTEM RESET warden.outbox_retention' \
  -c 'SELECT pg_reload_conf()' -c 'DROP EXTENSION warden CASCADE' >/dev/null

echo
bench_report outbox/e2e msgs/s "${e2e[*]}" "plain rabbitmq-c msgs/s" "${ref[*]}" 0.50
bench_report outbox/p50-1k ms "${p50[*]}" "plain rabbitmq-c p50 ms" "${ref_p50[*]}" -
bench_report outbox/p99-1k ms "${p99[*]}" "plain rabbitmq-c p99 ms" "${ref_p99[*]}" -
bench_report outbox/p99-25ms "25ms/p99" "${margin[*]}" "goal: p99 of 25 ms" "${goal_p99[*]}" 1.00
