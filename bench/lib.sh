# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench/*.sh sections (sourced).
#
# A section measures something several times, measures a reference the same
# number of times in the same run, and hands both lists to bench_report,
# which prints the medians, the spreads (min..max of the repetitions), the
# ratio of the medians and the verdict against the goal, and records the row
# for bench/run's summary. A BELOW verdict is a result, not an error: a
# section fails (non-zero exit) only when the harness itself broke.
#
# bench/run exports: BENCH_RESULTS (the rows, tab-separated), BENCH_TMP (a
# scratch directory), BENCH_SECONDS and BENCH_REPS (length and number of
# repetitions), PG_CONFIG, and the stack's PGHOST, PGPORT, PGUSER.

set -euo pipefail

PG_BINDIR=$("$PG_CONFIG" --bindir)
PGBENCH=$PG_BINDIR/pgbench
PSQL=$PG_BINDIR/psql

bench_say() { echo "bench: $*"; }
bench_die() {
  echo "bench: $*" >&2
  exit 1
}

# bench_psql DB ARGS...: psql that stops at the first error, no psqlrc.
bench_psql() {
  local db=$1
  shift
  "$PSQL" -qX -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# bench_median NUMBER...: the median (the mean of the middle two for an
# even count).
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) exit 1
      if (NR % 2) printf "%.6f\n", v[(NR + 1) / 2]
      else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# bench_fmt NUMBER: four significant digits or so, without exponents.
bench_fmt() {
  awk -v v="$1" 'BEGIN {
    a = v < 0 ? -v : v
    if (a >= 100) printf "%.0f", v
    else if (a >= 10) printf "%.1f", v
    else printf "%.2f", v
  }'
}

# bench_spread NUMBER...: "min..max", formatted.
bench_spread() {
  local lo hi
  lo=$(printf '%s\n' "$@" | sort -g | head -n 1)
  hi=$(printf '%s\n' "$@" | sort -g | tail -n 1)
  echo "$(bench_fmt "$lo")..$(bench_fmt "$hi")"
}

# bench_pgbench_tps DB SCRIPT SECONDS [PGBENCH-ARGS...]: runs SCRIPT on one
# client and one thread with the prepared protocol for SECONDS and prints
# its transactions per second. A client that aborts (an error in the script)
# breaks the harness: pgbench's output goes to stderr and the call fails.
bench_pgbench_tps() {
  local db=$1 script=$2 secs=$3 out tps
  shift 3
  if ! out=$("$PGBENCH" -n -c 1 -j 1 -M prepared -T "$secs" -f "$script" "$@" "$db" 2>&1); then
    printf '%s\n' "$out" >&2
    bench_die "pgbench failed on $script"
  fi
  tps=$(printf '%s\n' "$out" | sed -nE 's/^tps = ([0-9.]+) .*/\1/p' | head -n 1)
  if [ -z "$tps" ] || ! printf '%s\n' "$out" | grep -qE '^number of failed transactions: 0 '; then
    printf '%s\n' "$out" >&2
    bench_die "pgbench on $script reported no tps or failed transactions"
  fi
  echo "$tps"
}

# bench_cpu_ticks PID...: CPU time (clock ticks, user + system) the
# processes have used, threads included.
bench_cpu_ticks() {
  local sum=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    # the command name (field 2) may hold spaces: count from after it
    sum=$((sum + $(sed -E 's/^.*\) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$sum"
}

# bench_pg_ticks: CPU time of the stack's PostgreSQL: the postmaster, its
# live children (backends, workers) and the children it has reaped since
# it started (their time moves into its own when they exit).
bench_pg_ticks() {
  local pm kids
  pm=$(head -n 1 "$WARDEN_STACK_DIR/postgresql/data/postmaster.pid")
  kids=$(pgrep -P "$pm" | tr '\n' ' ')
  # shellcheck disable=SC2086
  echo $(($(sed -E 's/^.*\) //' "/proc/$pm/stat" | awk '{ print $12 + $13 + $14 + $15 }') +
    $(bench_cpu_ticks $kids)))
}

# bench_children_ticks: CPU time of this shell's finished children
# (pgbench, wrk: run between two readings, they are what the difference
# holds).
bench_children_ticks() {
  sed -E 's/^.*\) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'
}

# bench_authz_db DB PASSWORD LUA: a fresh database DB with the policy the
# /v1/authz sections drive (a role reading documents, one route, 10 users
# with PASSWORD), and LUA, a wrk script sending their access tokens in turn
# over 100 paths (1,000 distinct decisions). Prints the first token.
bench_authz_db() {
  local db=$1 pw=$2 lua=$3 tokens
  bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $db" \
    -c "CREATE DATABASE $db" >/dev/null || bench_die "could not create $db"
  bench_psql "$db" -c 'CREATE EXTENSION warden' -c "ALTER DATABASE $db SET warden.password_cost = 4" \
    >/dev/null || bench_die "could not install warden in $db"
  bench_psql "$db" -c "SET warden.password_cost = 4" -c "
    SELECT warden.create_role('reader'), warden.add_permission('reader', 'document:read'),
           warden.add_route('GET', '/documents/{id}', 'document:read', 'document:{id}');
    SELECT warden.create_user('user' || i, '$pw'), warden.grant('user' || i, 'reader')
      FROM generate_series(1, 10) i" >/dev/null || bench_die "could not set up the policy"
  tokens=$(bench_psql "$db" -At -c "SELECT string_agg(format('%L', (warden.login('user' || i, '$pw')).access_token), ',')
    FROM generate_series(1, 10) i" | tr "'" '"') || bench_die "could not log in"
  cat >"$lua" <<EOF
local tokens = {$tokens}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/authz", {
    ["Authorization"] = "Bearer " .. tokens[n % #tokens + 1],
    ["X-Original-Method"] = "GET",
    ["X-Original-URI"] = "/documents/" .. (n % 100),
  })
end
EOF
  cut -d'"' -f2 <<<"$tokens"
}

# bench_rpc_db DB PASSWORD: a fresh database DB with the /v1/rpc sections'
# API: api.echo(n integer), STABLE, executable by the role
# warden_bench_api, and a user "caller" with PASSWORD holding rpc:execute
# on function:echo. Prints caller's access token.
bench_rpc_db() {
  local db=$1 pw=$2
  bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $db" \
    -c "CREATE DATABASE $db" >/dev/null || bench_die "could not create $db"
  bench_psql "$db" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION warden' -c "
    DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'warden_bench_api') THEN
        CREATE ROLE warden_bench_api NOLOGIN;
      END IF;
    END \$\$;
    CREATE SCHEMA api;
    CREATE FUNCTION api.echo(n integer) RETURNS integer LANGUAGE sql STABLE AS 'SELECT n';
    GRANT USAGE ON SCHEMA api TO warden_bench_api;
    GRANT EXECUTE ON FUNCTION api.echo(integer) TO warden_bench_api;
    SET warden.password_cost = 4;
    SELECT warden.create_user('caller', '$pw'), warden.create_role('rpc_caller'),
           warden.add_permission('rpc_caller', 'rpc:execute'),
           warden.grant('caller', 'rpc_caller', 'function:echo')" >/dev/null ||
    bench_die "could not set up $db"
  bench_psql "$db" -At -c "SELECT access_token FROM warden.login('caller', '$pw')" ||
    bench_die "could not log in"
}

# bench_edge_start LOG [VAR=VALUE...]: edge/warden-edge in the background
# with the given settings, in a session of its own as a service runs, its
# output to LOG; sets EDGE_PID. Why its own session: the kernel shares CPU
# between sessions first (autogroup scheduling), and every PostgreSQL
# backend has one of its own (postmaster's children call setsid); an edge
# left in the load generator's session shares one share with wrk, and on a
# saturated machine the scheduler then leaves backends runnable but unrun
# for hundreds of milliseconds (p99 in the hundreds of ms, for the
# benchmark's arrangement, not the edge's work).
bench_edge_start() {
  local log=$1
  shift
  env "$@" setsid "$WARDEN_ROOT/edge/warden-edge" >"$log" 2>&1 &
  EDGE_PID=$!
}

# bench_nginx_start DIR PORT: nginx answering every request with a static
# 200 on 127.0.0.1:PORT, the reference HTTP server of the edge sections: a
# worker per CPU, access log off, keep-alive without a request limit, room
# for 20,000 connections; its files under DIR. Sets NGINX_PID.
bench_nginx_start() {
  local dir=$1 port=$2
  cat >"$dir/nginx.conf" <<EOF
worker_processes $(nproc);
worker_rlimit_nofile 65536;
pid $dir/nginx.pid;
error_log $dir/nginx.error.log warn;
daemon off;
events { worker_connections 20480; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port;
    location / { return 200; }
  }
}
EOF
  nginx -c "$dir/nginx.conf" -p "$dir" >"$dir/nginx.out" 2>&1 &
  NGINX_PID=$!
}

# bench_openssl_rsa BITS SECONDS: "sign/s verify/s" of `openssl speed` (one
# thread), read from its table by column name, so newer versions with more
# columns parse alike.
bench_openssl_rsa() {
  local bits=$1 secs=$2 out res
  out=$(openssl speed -seconds "$secs" "rsa$bits" 2>/dev/null) ||
    bench_die "openssl speed rsa$bits failed"
  res=$(printf '%s\n' "$out" | awk -v bits="$bits" '
    / sign\/s / && / verify\/s/ {
      for (i = 1; i <= NF; i++) col[$i] = i
      next
    }
    $1 == "rsa" && $2 == bits && $3 == "bits" && ("sign/s" in col) {
      # "rsa 2048 bits" takes three fields before the header columns
      print $(col["sign/s"] + 3), $(col["verify/s"] + 3)
      exit
    }')
  [[ $res =~ ^[0-9.]+\ [0-9.]+$ ]] || {
    printf '%s\n' "$out" >&2
    bench_die "could not read sign/s and verify/s from openssl speed rsa$bits"
  }
  echo "$res"
}

# bench_report NAME UNIT "VALUES" REF-NAME "REF-VALUES" GOAL: prints one
# result row and records it. GOAL is the least acceptable ratio of the
# medians (value / reference), or - for a measurement without a goal.
bench_report() {
  local name=$1 unit=$2 values=$3 refname=$4 refs=$5 goal=$6
  local med refmed ratio verdict spread refspread n
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  {
    med=$(bench_median $values)
    refmed=$(bench_median $refs)
    spread=$(bench_spread $values)
    refspread=$(bench_spread $refs)
    n=$(echo $values | wc -w)
  }
  ratio=$(awk -v a="$med" -v b="$refmed" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  if [ "$goal" = - ]; then
    verdict=-
  elif awk -v r="$ratio" -v g="$goal" 'BEGIN { exit !(r >= g) }'; then
    verdict=PASS
  else
    verdict=BELOW
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(bench_fmt "$med")" "$unit" \
    "$spread" "$refname" "$(bench_fmt "$refmed")" "$refspread" "$ratio" "$goal" "$verdict" \
    >>"$BENCH_RESULTS"
  printf '  %-22s %s %s (median of %s, %s)\n' "$name" "$(bench_fmt "$med")" "$unit" "$n" "$spread"
  printf '  %-22s %s (%s)\n' "  reference" "$(bench_fmt "$refmed") $refname" "$refspread"
  if [ "$goal" = - ]; then
    printf '  %-22s %s, no goal\n' "  ratio" "$ratio"
  else
    printf '  %-22s %s, goal >= %s: %s\n' "  ratio" "$ratio" "$goal" "$verdict"
  fi
}

# bench_table FILE: the summary of every recorded row.
bench_table() {
  awk -F'\t' '
    BEGIN {
      fmt = "%-20s %9s %-9s %-15s | %-26s %9s %-15s | %5s %6s  %s\n"
      printf fmt, "measurement", "median", "unit", "spread", "reference", "median", "spread",
        "ratio", "goal", "verdict"
    }
    { printf fmt, $1, $2, $3, $4, $5, $6, $7, $8, ($9 == "-" ? "-" : ">=" $9), $10 }' "$1"
}
