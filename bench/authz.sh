#!/usr/bin/env bash
# bench/authz.sh: the authz section of make bench.
#
# A generated policy, once per run (set-based INSERTs straight into warden's
# tables with a fixed seed, so runs compare): 10,000 principals (9,900 users
# and 100 groups, 600 users in one or two groups), 1,000 roles with about
# three permissions each (some document:* and *:read) inheriting only from
# lower ids, a 4-level resource tree (10 tenants, 1,000 projects, 10,000
# folders, 100,000 documents in warden.resource_parents) and 100,000
# bindings, ten per principal, on scopes at every level (a few on *, 1% of
# them expiring in ten years, 0.5% already expired), and 200 denies on
# projects and folders. Then a pool of about 100,000 distinct (principal,
# permission, resource) tuples in random order: 40% a permission of a bound
# role on a resource at or under (or above) the binding's scope, 10% the same
# through a group's binding for one of its members, 5% under a deny, 45%
# random; about 30% are allowed.
#
# The reference is bench.plain_check(): the same decision as a plain SQL
# function, recursive CTEs over the same tables with no cache. Before
# anything is measured, warden.check() and plain_check() must agree on the
# first tuples of the pool, or the section breaks.
#
# Throughput is measured inside one query (a PL/pgSQL loop over chunks of
# the pool), so the client round trip is not in it. Each repetition:
#   plain    plain_check() over the pool from its start, for N seconds, on a
#            fresh backend (the reference)
#   cold     warden.check() over the pool from its start on a fresh backend:
#            every tuple is a first sight, i.e. one warden._decide() query;
#            N seconds, at most check_cache_size - 1,000 tuples (no goal)
#   warm     then, on that backend, passes over the first 20,000 tuples of
#            the pool (all in the decision cache by now) for N seconds;
#            goal: >= 50x plain, and >= 500,000 checks/s (the issue's
#            absolute goal, as a ratio to a fixed reference)
#   cold p99 pgbench, one statement per check, BENCH_P99_CHECKS (2,000)
#            checks of unseen tuples on a fresh backend; the 99th percentile
#            of pgbench's per-transaction latencies (round trip included),
#            next to the same statement without the check (the round trip to
#            subtract); goal: p99 under 1 ms, quoted as 1 ms / p99 >= 1.
#            The backend's first check prepares warden.check()'s plan; as
#            one in P99_CHECKS it stays out of the p99.

source "$WARDEN_ROOT/bench/lib.sh"

DB=warden_bench_authz
SECS=$BENCH_SECONDS
REPS=$BENCH_REPS
P99_CHECKS=${BENCH_P99_CHECKS:-2000}
WARM_TUPLES=20000
VERIFY_TUPLES=4000
POOL_DRAWS=120000
W=$BENCH_TMP/authz
mkdir -p "$W"

[[ $P99_CHECKS =~ ^[1-9][0-9]*$ ]] ||
  bench_die "BENCH_P99_CHECKS must be a positive whole number, not '$P99_CHECKS'"

# --------------------------------------------------------------- set-up

start=$SECONDS
bench_psql postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
bench_psql "$DB" >/dev/null <<'SQL'
CREATE EXTENSION warden;
SELECT setseed(0.4242);
-- principals: users 1..9900, groups 9901..10000 (ids given, so the rows
-- below can name them by number)
INSERT INTO warden.principals (id, name, kind) OVERRIDING SYSTEM VALUE
SELECT i, CASE WHEN i <= 9900 THEN 'user-' || i ELSE 'group-' || (i - 9900) END,
       CASE WHEN i <= 9900 THEN 'user' ELSE 'group' END
  FROM generate_series(1, 10000) i;
SELECT setval(pg_get_serial_sequence('warden.principals', 'id'), 10000);
INSERT INTO warden.group_members (group_id, member_id)
SELECT 9901 + floor(random() * 100)::int, u FROM generate_series(1, 600) u
UNION ALL
SELECT 9901 + floor(random() * 100)::int, u FROM generate_series(1, 200) u
ON CONFLICT DO NOTHING;
INSERT INTO warden.roles (id, name) OVERRIDING SYSTEM VALUE
SELECT i, 'role-' || i FROM generate_series(1, 1000) i;
SELECT setval(pg_get_serial_sequence('warden.roles', 'id'), 1000);
INSERT INTO warden.role_permissions (role_id, resource_type, action)
SELECT r, (ARRAY['tenant', 'project', 'folder', 'document', 'document', 'document'])[1 + floor(random() * 6)::int],
          (ARRAY['read', 'read', 'write', 'delete', 'share', 'admin'])[1 + floor(random() * 6)::int]
  FROM generate_series(1, 1000) r, generate_series(1, 3) k
UNION ALL
SELECT r, 'document', '*' FROM generate_series(1, 1000) r WHERE random() < 0.03
UNION ALL
SELECT r, '*', 'read' FROM generate_series(1, 1000) r WHERE random() < 0.01
ON CONFLICT DO NOTHING;
-- a role inherits only roles with lower ids: no cycles
INSERT INTO warden.role_inherits (role_id, inherits_id)
SELECT r, 1 + floor(random() * (r - 1))::int FROM generate_series(11, 1000) r WHERE random() < 0.3
UNION ALL
SELECT r, 1 + floor(random() * (r - 1))::int FROM generate_series(11, 1000) r WHERE random() < 0.1
ON CONFLICT DO NOTHING;
-- the tree: project p in tenant (p-1)%10+1, folder f in project
-- (f-1)%1000+1, document d in folder (d-1)%10000+1
INSERT INTO warden.resource_parents (child, parent)
SELECT 'project:' || p, 'tenant:' || (1 + (p - 1) % 10) FROM generate_series(1, 1000) p
UNION ALL
SELECT 'folder:' || f, 'project:' || (1 + (f - 1) % 1000) FROM generate_series(1, 10000) f
UNION ALL
SELECT 'document:' || d, 'folder:' || (1 + (d - 1) % 10000) FROM generate_series(1, 100000) d;
-- binding i: principal i%10000+1, its (i/10000)-th binding, with a role
-- among 100 of its own (so no two collide)
INSERT INTO warden.bindings (principal_id, role_id, scope, expires_at)
SELECT 1 + i % 10000, (i / 10000) * 100 + 1 + floor(random() * 100)::int,
       CASE WHEN x < 0.0002 THEN '*'
            WHEN x < 0.03 THEN 'tenant:' || (1 + floor(random() * 10)::int)
            WHEN x < 0.20 THEN 'project:' || (1 + floor(random() * 1000)::int)
            WHEN x < 0.50 THEN 'folder:' || (1 + floor(random() * 10000)::int)
            ELSE 'document:' || (1 + floor(random() * 100000)::int) END,
       CASE WHEN e < 0.01 THEN now() + interval '10 years'
            WHEN e < 0.015 THEN now() - interval '1 day' END
  FROM (SELECT i, random() x, random() e FROM generate_series(0, 99999) i) g;
INSERT INTO warden.denies (principal_id, resource_type, action, scope)
SELECT 1 + floor(random() * 10000)::int,
       (ARRAY['document', 'document', 'folder', '*'])[1 + floor(random() * 4)::int],
       (ARRAY['read', 'write', 'delete', '*'])[1 + floor(random() * 4)::int],
       CASE WHEN random() < 0.5 THEN 'project:' || (1 + floor(random() * 1000)::int)
            ELSE 'folder:' || (1 + floor(random() * 10000)::int) END
  FROM generate_series(1, 200)
ON CONFLICT DO NOTHING;
-- vacuumed now, so autovacuum leaves the tables alone during the
-- measurements (its statistics update would drop the decision caches)
VACUUM ANALYZE warden.principals, warden.group_members, warden.roles, warden.role_permissions,
  warden.role_inherits, warden.resource_parents, warden.bindings, warden.denies;
SQL
policy=$(bench_psql "$DB" -At -F ' ' -c "SELECT
  (SELECT count(*) FROM warden.principals), (SELECT count(*) FROM warden.principals WHERE kind = 'group'),
  (SELECT count(*) FROM warden.group_members), (SELECT count(*) FROM warden.roles),
  (SELECT count(*) FROM warden.role_permissions), (SELECT count(*) FROM warden.role_inherits),
  (SELECT count(*) FROM warden.resource_parents), (SELECT count(*) FROM warden.bindings),
  (SELECT count(*) FROM warden.bindings WHERE scope = '*'), (SELECT count(*) FROM warden.denies)")
read -r n_princ n_groups n_members n_roles n_perms n_inh n_parents n_bind n_star n_deny <<<"$policy"
if [ "$n_princ" != 10000 ] || [ "$n_roles" != 1000 ] || [ "$n_bind" != 100000 ] || [ "$n_parents" != 111000 ]; then
  bench_die "the generated policy is not the intended size: $policy"
fi
bench_say "policy: $n_princ principals ($n_groups groups, $n_members memberships), $n_roles roles" \
  "($n_perms permissions, $n_inh inherits), $n_bind bindings ($n_star on *), $n_parents parents, $n_deny denies"

# The reference, the tuple pool and the measuring loops, in schema bench.
bench_psql "$DB" >/dev/null -v draws="$POOL_DRAWS" <<'SQL'
CREATE SCHEMA bench;

-- The decision of warden.check() (no API-key scopes) in plain SQL: the
-- principal (enabled) and its enabled groups; the resource and its
-- ancestors, and *; the roles bound there (unexpired) and those they
-- inherit; allowed when one of them has a covering permission and no deny
-- of the subjects covers it on the path.
CREATE FUNCTION bench.plain_check(principal text, permission text, resource text)
RETURNS boolean LANGUAGE sql STABLE AS $$
	WITH RECURSIVE
	perm(rt, act) AS (SELECT split_part(permission, ':', 1), split_part(permission, ':', 2)),
	p AS (SELECT id FROM warden.principals WHERE name = principal AND enabled),
	subjects(id) AS (
		SELECT id FROM p
		UNION ALL
		SELECT gm.group_id FROM warden.group_members gm JOIN p ON gm.member_id = p.id
		  JOIN warden.principals g ON g.id = gm.group_id AND g.enabled),
	chain(res, depth) AS (
		SELECT resource, 0
		UNION ALL
		SELECT rp.parent, c.depth + 1 FROM chain c JOIN warden.resource_parents rp ON rp.child = c.res
		 WHERE c.depth < 64),
	scopes(res) AS (SELECT res FROM chain UNION ALL SELECT '*'),
	roles_(role_id) AS (
		SELECT b.role_id FROM warden.bindings b
		  JOIN subjects s ON s.id = b.principal_id JOIN scopes sc ON sc.res = b.scope
		 WHERE b.expires_at IS NULL OR b.expires_at > now()
		UNION
		SELECT ri.inherits_id FROM roles_ r JOIN warden.role_inherits ri ON ri.role_id = r.role_id)
	SELECT NOT EXISTS (
	           SELECT FROM warden.denies d JOIN subjects s ON s.id = d.principal_id
	             JOIN scopes sc ON sc.res = d.scope, perm
	            WHERE d.resource_type IN (perm.rt, '*') AND d.action IN (perm.act, '*'))
	   AND EXISTS (
	           SELECT FROM roles_ r JOIN warden.role_permissions rp ON rp.role_id = r.role_id, perm
	            WHERE rp.resource_type IN (perm.rt, '*') AND rp.action IN (perm.act, '*'))
$$;

-- A resource of type rt at or under scope (or its ancestor of that type
-- when the scope lies deeper), chosen by the random numbers r.
CREATE FUNCTION bench.resource_at(scope text, rt text, r float8[])
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	levels text[] := ARRAY['tenant', 'project', 'folder', 'document'];
	fanout int[] := ARRAY[100, 10, 10];	-- children of a tenant, a project, a folder
	stride int[] := ARRAY[10, 1000, 10000];	-- sibling ids differ by multiples of these
	target int := coalesce(array_position(levels, rt), 4);
	lvl int;
	id bigint;
BEGIN
	IF scope = '*' THEN
		lvl := 1;
		id := 1 + floor(r[1] * 10);
	ELSE
		lvl := array_position(levels, split_part(scope, ':', 1));
		id := split_part(scope, ':', 2)::bigint;
	END IF;
	WHILE lvl < target LOOP
		id := id + stride[lvl] * floor(r[lvl + 1] * fanout[lvl]);
		lvl := lvl + 1;
	END LOOP;
	WHILE lvl > target LOOP
		lvl := lvl - 1;
		id := 1 + (id - 1) % stride[lvl];
	END LOOP;
	RETURN levels[lvl] || ':' || id;
END
$$;

-- The pool: distinct tuples numbered in a fixed pseudo-random order (md5).
-- Random draws sit in subqueries of their own, so the joins use indexes.
SELECT setseed(0.2424);
CREATE TABLE bench.pool AS
WITH
types(t) AS (SELECT ARRAY['tenant', 'project', 'folder', 'folder', 'document', 'document', 'document', 'document']),
actions(a) AS (SELECT ARRAY['read', 'read', 'read', 'write', 'delete', 'share', 'admin']),
bound AS (
	SELECT pr.name AS principal, x.rt, x.act, b.scope
	  FROM (SELECT (SELECT min(id) FROM warden.bindings) + floor(random() * 100000)::int AS bid
	          FROM generate_series(1, :draws * 40 / 100)) g
	  JOIN warden.bindings b ON b.id = g.bid
	  JOIN warden.principals pr ON pr.id = b.principal_id
	  CROSS JOIN LATERAL (SELECT rp.resource_type AS rt, rp.action AS act FROM warden.role_permissions rp
	                       WHERE rp.role_id = b.role_id ORDER BY random() LIMIT 1) x),
member AS (
	SELECT pr.name AS principal, x.rt, x.act, b.scope
	  FROM (SELECT g, gs[k] AS gid, ms[k] AS mid
	          FROM (SELECT g, 1 + floor(random() * cardinality(ms))::int AS k, gs, ms
	                  FROM (SELECT array_agg(group_id ORDER BY group_id, member_id) gs,
	                               array_agg(member_id ORDER BY group_id, member_id) ms
	                          FROM warden.group_members) a,
	                       generate_series(1, :draws * 10 / 100) g) k) g0
	  JOIN warden.group_members gm ON gm.group_id = g0.gid AND gm.member_id = g0.mid
	  JOIN warden.principals pr ON pr.id = gm.member_id
	  CROSS JOIN LATERAL (SELECT * FROM warden.bindings b WHERE b.principal_id = gm.group_id
	                       ORDER BY random() + g0.g * 0 LIMIT 1) b
	  CROSS JOIN LATERAL (SELECT rp.resource_type AS rt, rp.action AS act FROM warden.role_permissions rp
	                       WHERE rp.role_id = b.role_id ORDER BY random() + g0.g * 0 LIMIT 1) x),
denied AS (
	SELECT pr.name AS principal, d.resource_type AS rt, d.action AS act, d.scope
	  FROM (SELECT ids[1 + floor(random() * cardinality(ids))::int] AS did
	          FROM (SELECT array_agg(id ORDER BY id) ids FROM warden.denies) ds,
	               generate_series(1, :draws * 5 / 100)) g0
	  JOIN warden.denies d ON d.id = g0.did
	  JOIN warden.principals pr ON pr.id = d.principal_id),
random_ AS (
	SELECT 'user-' || (1 + floor(random() * 9900)::int) AS principal, '*' AS rt, '*' AS act, '*' AS scope
	  FROM generate_series(1, :draws * 45 / 100)),
tuples AS (
	SELECT t.principal,
	       c.rt || ':' || CASE WHEN t.act = '*' THEN a[1 + floor(random() * cardinality(a))::int]
	                           ELSE t.act END AS permission,
	       bench.resource_at(t.scope, c.rt, ARRAY[random(), random(), random(), random()]) AS resource
	  FROM (SELECT * FROM bound UNION ALL SELECT * FROM member UNION ALL SELECT * FROM denied
	        UNION ALL SELECT * FROM random_) t, types, actions,
	       LATERAL (SELECT CASE WHEN t.rt = '*' THEN types.t[1 + floor(random() * cardinality(types.t))::int]
	                            ELSE t.rt END AS rt) c)
SELECT row_number() OVER (ORDER BY md5(principal || ' ' || permission || ' ' || resource)) AS seq,
       principal, permission, resource
  FROM (SELECT DISTINCT principal, permission, resource FROM tuples) u;
ALTER TABLE bench.pool ADD PRIMARY KEY (seq);
ANALYZE bench.pool;

-- check(): on a fresh backend, warden.check() over the pool from its
-- start for secs seconds or cap tuples (cold: each a first sight), then
-- passes over its first warm tuples for secs seconds (warm: all cached by
-- then; any the cold part did not reach are checked first, untimed).
CREATE FUNCTION bench.check(secs float8, cap int, warm int,
	OUT cold_checks bigint, OUT cold_allowed bigint, OUT cold_secs float8,
	OUT warm_checks bigint, OUT warm_allowed bigint, OUT warm_secs float8)
LANGUAGE plpgsql AS $$
DECLARE
	total bigint := (SELECT count(*) FROM bench.pool);
	lo bigint := 0;
	n bigint;
	a bigint;
	t0 timestamptz;
BEGIN
	-- prepares warden.check()'s plan: a backend's first check, not a tuple's
	PERFORM warden.check('bench-nobody', 'document:read', 'document:0');
	cold_checks := 0;
	cold_allowed := 0;
	t0 := clock_timestamp();
	WHILE lo < least(total, cap) AND clock_timestamp() - t0 < secs * interval '1 second' LOOP
		SELECT count(*), count(*) FILTER (WHERE warden.check(principal, permission, resource))
		  INTO n, a FROM bench.pool WHERE seq > lo AND seq <= least(lo + 500, cap);
		cold_checks := cold_checks + n;
		cold_allowed := cold_allowed + a;
		lo := lo + n;
	END LOOP;
	cold_secs := extract(epoch FROM clock_timestamp() - t0);
	IF lo < warm THEN
		PERFORM count(*) FILTER (WHERE warden.check(principal, permission, resource))
		   FROM bench.pool WHERE seq > lo AND seq <= warm;
	END IF;
	warm_checks := 0;
	warm_allowed := 0;
	t0 := clock_timestamp();
	LOOP
		SELECT count(*), count(*) FILTER (WHERE warden.check(principal, permission, resource))
		  INTO n, a FROM bench.pool WHERE seq <= warm;
		warm_checks := warm_checks + n;
		warm_allowed := warm_allowed + a;
		EXIT WHEN clock_timestamp() - t0 >= secs * interval '1 second';
	END LOOP;
	warm_secs := extract(epoch FROM clock_timestamp() - t0);
END
$$;

-- plain(): bench.plain_check() over the pool from its start, like the cold
-- part of check().
CREATE FUNCTION bench.plain(secs float8,
	OUT checks bigint, OUT allowed bigint, OUT seconds float8)
LANGUAGE plpgsql AS $$
DECLARE
	total bigint := (SELECT count(*) FROM bench.pool);
	lo bigint := 0;
	n bigint;
	a bigint;
	t0 timestamptz;
BEGIN
	PERFORM bench.plain_check('bench-nobody', 'document:read', 'document:0');
	checks := 0;
	allowed := 0;
	t0 := clock_timestamp();
	WHILE lo < total AND clock_timestamp() - t0 < secs * interval '1 second' LOOP
		SELECT count(*), count(*) FILTER (WHERE bench.plain_check(principal, permission, resource))
		  INTO n, a FROM bench.pool WHERE seq > lo AND seq <= lo + 500;
		checks := checks + n;
		allowed := allowed + a;
		lo := lo + n;
	END LOOP;
	seconds := extract(epoch FROM clock_timestamp() - t0);
END
$$;
SQL

# Both must decide alike before either is timed: warden.check() twice per
# tuple, once computed and once from its cache.
agree=$(bench_psql "$DB" -At -F ' ' -v n="$VERIFY_TUPLES" <<'SQL'
SELECT (SELECT count(*) FROM bench.pool), count(*), count(*) FILTER (WHERE p),
       count(*) FILTER (WHERE c IS DISTINCT FROM p OR c2 IS DISTINCT FROM p)
  FROM (SELECT warden.check(principal, permission, resource) c,
               bench.plain_check(principal, permission, resource) p,
               warden.check(principal, permission, resource) c2
          FROM bench.pool WHERE seq <= :n) v
SQL
)
read -r pool verified allowed differ <<<"$agree"
if [ "$differ" != 0 ] || [ "$verified" != "$VERIFY_TUPLES" ]; then
  bench_psql "$DB" -c "SELECT seq, principal, permission, resource,
      warden.check(principal, permission, resource), bench.plain_check(principal, permission, resource)
    FROM bench.pool WHERE seq <= $VERIFY_TUPLES
      AND warden.check(principal, permission, resource)
          IS DISTINCT FROM bench.plain_check(principal, permission, resource) LIMIT 10" >&2
  bench_die "warden.check and the plain SQL check disagree on $differ of $verified tuples"
fi
cache=$(bench_psql "$DB" -At -c "SELECT current_setting('warden.check_cache_size')::int")
COLD_CAP=$((cache - 1000))
((COLD_CAP >= WARM_TUPLES)) ||
  bench_die "warden.check_cache_size ($cache) is too small for a warm sample of $WARM_TUPLES"
((pool >= WARM_TUPLES && pool >= P99_CHECKS)) ||
  bench_die "the pool has only $pool tuples"
bench_say "pool: $pool distinct tuples; on the first $verified warden.check and plain SQL agree" \
  "($allowed allowed); set-up took $((SECONDS - start))s"

# pgbench counts :n up from 0, one unseen tuple of the pool a transaction.
echo '\set n :n + 1' >"$W/p99-check.sql"
echo 'SELECT warden.check(principal, permission, resource) FROM bench.pool WHERE seq = :n;' >>"$W/p99-check.sql"
echo '\set n :n + 1' >"$W/p99-nocheck.sql"
echo 'SELECT principal IS NOT NULL FROM bench.pool WHERE seq = :n;' >>"$W/p99-nocheck.sql"

# p99_ms SCRIPT NAME: P99_CHECKS transactions of SCRIPT on a fresh
# backend; prints the 99th percentile of their latencies in ms.
p99_ms() {
  local script=$1 name=$2 out log
  rm -f "$W/$name".*
  if ! out=$("$PGBENCH" -n -c 1 -j 1 -M prepared -t "$P99_CHECKS" -D n=0 -l --log-prefix="$W/$name" \
    -f "$script" "$DB" 2>&1); then
    printf '%s\n' "$out" >&2
    bench_die "pgbench failed on $script"
  fi
  if ! printf '%s\n' "$out" | grep -qE '^number of failed transactions: 0 ' ||
    ! printf '%s\n' "$out" | grep -qE "^number of transactions actually processed: $P99_CHECKS/$P99_CHECKS\$"; then
    printf '%s\n' "$out" >&2
    bench_die "pgbench on $script did not complete $P99_CHECKS transactions"
  fi
  log=$(ls "$W/$name".*)
  # per transaction: client, number, latency in us, script, epoch s, us
  awk '{ print $3 }' "$log" | sort -n | awk -v n="$P99_CHECKS" '
    { v[NR] = $1 }
    END {
      if (NR != n) exit 1
      k = int(n * 0.99); if (k < n * 0.99) k++
      printf "%.4f\n", v[k] / 1000
    }' || bench_die "could not read $P99_CHECKS latencies from $log"
}

# rate CHECKS SECONDS: checks per second, or the harness broke.
rate() {
  awk -v n="$1" -v s="$2" 'BEGIN { if (n !~ /^[0-9]+$/ || n == 0 || !(s > 0)) exit 1; printf "%.1f\n", n / s }' ||
    bench_die "no rate from '$1' checks in '$2' seconds"
}

# ------------------------------------------------------------ measurements

plain=() cold=() warm=() p99=() p99_nocheck=() p99_margin=() goal_rate=() goal_p99=()
for ((i = 1; i <= REPS; i++)); do
  out=$(bench_psql "$DB" -At -F ' ' -c "SELECT * FROM bench.plain($SECS)")
  read -r n a s <<<"$out"
  t=$(rate "$n" "$s")
  plain+=("$t")
  plain_note="$n, $a allowed"
  out=$(bench_psql "$DB" -At -F ' ' -c "SELECT * FROM bench.check($SECS, $COLD_CAP, $WARM_TUPLES)")
  read -r cn ca cs wn wa ws <<<"$out"
  t=$(rate "$cn" "$cs")
  cold+=("$t")
  t=$(rate "$wn" "$ws")
  warm+=("$t")
  # whole passes over the same tuples: the same decisions each pass
  passes=$((wn / WARM_TUPLES))
  ((wn % WARM_TUPLES == 0 && passes > 0 && wa % passes == 0)) ||
    bench_die "warm passes did not decide alike: $wn checks, $wa allowed"
  t=$(p99_ms "$W/p99-check.sql" "p99-check-$i")
  p99+=("$t")
  p99_margin+=("$(awk -v t="$t" 'BEGIN { printf "%.4f", 1 / t }')")
  t=$(p99_ms "$W/p99-nocheck.sql" "p99-nocheck-$i")
  p99_nocheck+=("$t")
  goal_rate+=(500000) goal_p99+=(1)
  printf '  %d/%d checks per second: plain SQL %s (%s) | cold %s (%s, %s allowed) | warm %s | cold p99 %s ms, without the check %s ms\n' \
    "$i" "$REPS" "$(bench_fmt "${plain[-1]}")" "$plain_note" "$(bench_fmt "${cold[-1]}")" "$cn" "$ca" \
    "$(bench_fmt "${warm[-1]}")" "$(bench_fmt "${p99[-1]}")" "$(bench_fmt "${p99_nocheck[-1]}")"
done

# ----------------------------------------------------------------- results

echo
bench_report authz/check-warm checks/s "${warm[*]}" "plain SQL checks/s" "${plain[*]}" 50
bench_report authz/check-cold checks/s "${cold[*]}" "plain SQL checks/s" "${plain[*]}" -
bench_report authz/warm-500k checks/s "${warm[*]}" "goal: 500000 checks/s" "${goal_rate[*]}" 1.00
bench_report authz/cold-p99 ms "${p99[*]}" "same query, no check, p99" "${p99_nocheck[*]}" -
bench_report authz/cold-p99-1ms "1ms/p99" "${p99_margin[*]}" "goal: p99 of 1 ms" "${goal_p99[*]}" 1.00
