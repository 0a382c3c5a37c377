#!/usr/bin/env bash
# bench/pii.sh: the PII section of make bench.
#
# Each repetition:
#   core     bench/pii_bench (built here with -O2): MB/s of the core/
#            scanner and masker over 32 MiB of generated log-like text, next
#            to a masker of the same detectors on POSIX regcomp/regexec, in
#            the same process; goals: the scanner at >= 10x the regex
#            masker, and at >= 300 MB/s on one core (an absolute goal,
#            quoted as a ratio to a fixed reference)
#   mask()   warden.mask() over the labelled corpus's lines (tests/pii),
#            in SQL, one backend, next to the core masker (no goal: the
#            cost of calling it from SQL)
#   log hook pgbench -S (select only, one client) with log_statement = 'all',
#            warden.mask_logs on, next to the same with it off; goal: the
#            hook costs under 5% (ratio >= 0.95)

source "$WARDEN_ROOT/bench/lib.sh"

DB=warden_bench_pii
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
W=$BENCH_TMP/pii
mkdir -p "$W"

# --------------------------------------------------------------- set-up

${CC:-cc} -O2 -Icore -o "$W/pii_bench" "$WARDEN_ROOT/bench/pii_bench.c" \
  "$WARDEN_ROOT/core/pii.c" -lcrypto || bench_die "could not build bench/pii_bench.c"

bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
bench_psql "$DB" -c 'CREATE EXTENSION warden' >/dev/null
"$PGBENCH" -i -q -s 1 "$DB" >/dev/null 2>&1 || bench_die "pgbench -i failed"

# The corpus without its labels: realistic log and JSON lines.
sed -E 's/⟦[a-z_]+\|([^⟧]*)⟧/\1/g' "$WARDEN_ROOT/tests/pii/corpus.txt" >"$W/lines.txt"
bench_psql "$DB" >/dev/null <<SQL
CREATE TABLE lines (line text);
\copy lines FROM '$W/lines.txt' WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02')
SQL
LINE_BYTES=$(bench_psql "$DB" -At -c 'SELECT sum(octet_length(line)) FROM lines')
echo 'SELECT sum(octet_length(warden.mask(line))) FROM lines;' >"$W/mask.sql"
# pgbench -S's own script
printf '%s\n' '\set aid random(1, 100000)' \
  'SELECT abalance FROM pgbench_accounts WHERE aid = :aid;' >"$W/select.sql"

# ------------------------------------------------------------ measurements

# a first, unmeasured run warms the buffers and the log file
PGOPTIONS='-c log_statement=all' bench_pgbench_tps "$DB" "$W/select.sql" 2 >/dev/null

scan=() mask_core=() regex=() fixed300=() sqlmask=() hook_on=() hook_off=()
for ((i = 1; i <= REPS; i++)); do
  out=$("$W/pii_bench" 32 4) || bench_die "pii_bench failed"
  s=$(printf '%s\n' "$out" | sed -nE 's/^ +pii_scan +([0-9.]+) MB\/s.*/\1/p')
  m=$(printf '%s\n' "$out" | sed -nE 's/^ +pii_mask \(full\) +([0-9.]+) MB\/s.*/\1/p')
  r=$(printf '%s\n' "$out" | sed -nE 's/^ +regex masker \(POSIX\) +([0-9.]+) MB\/s.*/\1/p')
  [ -n "$s" ] && [ -n "$m" ] && [ -n "$r" ] || bench_die "could not read pii_bench's output"
  scan+=("$s") mask_core+=("$m") regex+=("$r") fixed300+=(300)

  t=$(bench_pgbench_tps "$DB" "$W/mask.sql" "$SECS")
  sqlmask+=("$(awk -v t="$t" -v b="$LINE_BYTES" 'BEGIN { printf "%.1f", t * b / 1e6 }')")

  # on and off take turns going first, so neither always meets a warmer
  # cache or a fuller log
  for mode in $( ((i % 2)) && echo on off || echo off on); do
    t=$(PGOPTIONS="-c log_statement=all -c warden.mask_logs=$mode" bench_pgbench_tps "$DB" "$W/select.sql" "$SECS")
    if [ "$mode" = on ]; then hook_on+=("$t"); else hook_off+=("$t"); fi
  done
  printf '  %d/%d: scan %s MB/s, core mask %s, regex %s | warden.mask() %s MB/s | pgbench -S, log_statement=all: hook on %s, off %s tps\n' \
    "$i" "$REPS" "$s" "$m" "$r" "${sqlmask[-1]}" "$(bench_fmt "${hook_on[-1]}")" "$(bench_fmt "${hook_off[-1]}")"
done

# ----------------------------------------------------------------- results

echo
bench_report pii/scan-vs-regex MB/s "${scan[*]}" "POSIX regex masker MB/s" "${regex[*]}" 10
bench_report pii/scan-300 MB/s "${scan[*]}" "goal: 300 MB/s" "${fixed300[*]}" 1.00
bench_report pii/mask-vs-regex MB/s "${mask_core[*]}" "POSIX regex masker MB/s" "${regex[*]}" -
bench_report pii/sql-mask MB/s "${sqlmask[*]}" "core pii_mask MB/s" "${mask_core[*]}" -
bench_report pii/log-hook tps "${hook_on[*]}" "pgbench -S, mask_logs off" "${hook_off[*]}" 0.95

bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" >/dev/null
