#!/usr/bin/env bash
# tests/integration/edge_hostile.sh: hostile input at the real edge, each
# answered with its status while the process stays up and keeps serving:
# oversized headers (431) and URIs (414), garbage instead of HTTP (400),
# request smuggling shapes, a path that tries to climb out, and 100
# slowloris connections that never finish their headers while other
# clients are served at once.
. "$WARDEN_ROOT/tests/lib.sh"

PORT=$((WARDEN_TEST_PORT_BASE + 7))
URL=http://127.0.0.1:$PORT
edge_start hostile "$PORT" || true
up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/healthz")" = 200 ]; }

big=$(head -c 40000 /dev/zero | tr '\0' a)
t_eq "a 40 KB header: 431" 431 "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/healthz")"
t_eq "a 40 KB URI: 414" 414 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz?$big")"
t_check "still serving" up

raw() { # raw TEXT: sends TEXT on a fresh connection, prints the status line
  local fd line
  exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
  printf '%b' "$1" >&"$fd"
  IFS= read -r -t 3 line <&"$fd" || line="(no answer)"
  exec {fd}>&-
  printf '%s\n' "${line%$'\r'}"
}
t_match "garbage instead of HTTP: 400 or closed" '^(HTTP/1.1 400|\(no answer\))' "$(raw 'x\x01\x02\xff garbage\r\n\r\n')"
t_match "two Content-Lengths (smuggling): 400" '^HTTP/1.1 400' \
  "$(raw 'POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef')"
out=$(raw 'POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
refused() { case $1 in 'HTTP/1.1 400'* | '(no answer)' | '') return 0 ;; *) return 1 ;; esac; }
t_check "Content-Length beside Transfer-Encoding: 400, or closed unanswered (${out:-closed})" refused "$out"
t_match "a path climbing out of the root: 404, nothing served" '^HTTP/1.1 404' \
  "$(raw 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')"
t_check "still serving" up

# slowloris: connections that open their headers and never finish them
slow=()
for i in $(seq 1 100); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" && slow+=("$fd") &&
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&"$fd"
done
t_eq "100 slow connections are open" 100 "${#slow[@]}"
worst=0
for i in $(seq 1 20); do
  ms=$(curl -s -o /dev/null -w '%{time_total}' --max-time 5 "$URL/healthz" | awk '{ printf "%d", $1 * 1000 }')
  [ "$ms" -gt "$worst" ] && worst=$ms
done
t_check "other clients are served meanwhile (slowest of 20: $worst ms)" test "$worst" -lt 500
for fd in "${slow[@]}"; do exec {fd}>&-; done
t_check "still serving after they go" up

edge_stop hostile
t_eq "and it stops cleanly" 0 "$EDGE_STATUS"
t_eq "no crash in its log" 0 "$(grep -c -i -e 'panic' -e 'abort' -e 'segfault' "$WARDEN_TEST_TMP/hostile.log")"
t_done
