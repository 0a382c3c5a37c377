#!/usr/bin/env bash
# tests/integration/edge_rediscall.sh: the edge's Redis layer
# (edge/rediscall.c) against the stack's real Redis, through
# build/tools/rediscall_probe: pipelined commands from several threads
# (every reply to its own callback, in order, none lost), requests
# suspended and completed with their reply, error replies, and failing
# fast with Redis stopped or frozen. The edges' own use of it is tested in
# edge_ratelimit.sh.
#
# Redis is left running on exit, also on failure.
. "$WARDEN_ROOT/tests/lib.sh"

PROBE=$WARDEN_ROOT/build/tools/rediscall_probe
STACK=$WARDEN_ROOT/scripts/stack
frozen=
restore() {
  [ -z "$frozen" ] || kill -CONT "$frozen" 2>/dev/null
  "$STACK" start redis >/dev/null 2>&1
}
trap restore EXIT

out=$("$PROBE" "$WARDEN_REDIS_URL" pipeline 100000 2>&1)
t_match "100,000 commands from 4 threads on one connection: all answered, in order" '^ok 100000 ' "$out"
echo "# $(awk '{ print $3 }' <<<"$out") commands/s on one connection"

out=$("$PROBE" "$WARDEN_REDIS_URL" submit 2>&1)
t_eq "suspended requests complete with their reply (SET EX, GET, an error reply)" "ok submit" "$out"

# frozen: connected first, then SIGSTOP, then one command with 300 ms
coproc PROBE_PROC { "$PROBE" "$WARDEN_REDIS_URL" frozen 300 2>&1; }
read -r -t 10 line <&"${PROBE_PROC[0]}"
t_eq "the probe is connected" connected "$line"
frozen=$(cat "$WARDEN_STACK_DIR/redis/redis.pid")
kill -STOP "$frozen"
echo go >&"${PROBE_PROC[1]}"
read -r -t 10 line <&"${PROBE_PROC[0]}"
kill -CONT "$frozen"
frozen=
t_match "Redis frozen: the command fails by its deadline, Redis reads as down" '^ok frozen [0-9]+ ms$' "$line"
ms=$(awk '{ print $3 }' <<<"$line")
t_check "within the deadline and a read's worth more ($ms ms)" test "${ms:-9999}" -lt 1500

"$STACK" stop redis >/dev/null
out=$("$PROBE" "$WARDEN_REDIS_URL" down 2>&1)
t_match "Redis stopped: send refused and submit completed at once" '^ok down [0-9]+ ms$' "$out"
"$STACK" start redis >/dev/null
out=$("$PROBE" "$WARDEN_REDIS_URL" submit 2>&1)
t_eq "Redis started: commands again" "ok submit" "$out"

t_done
