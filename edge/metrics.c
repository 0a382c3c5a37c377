/*
 * metrics.c
 *		GET /metrics in the Prometheus text format (version 0.0.4): requests
 *		by route and status code, latency histograms by route, requests in
 *		flight, the PostgreSQL pool, the read replicas, the Redis connection,
 *		and the outbox backlog from warden.outbox_stats().
 *
 * Counters are atomics in one array per route (plus "unmatched"), bumped
 * when a request completes; a scrape reads them without locking, so a
 * scrape taken mid-request may see a count one ahead of its histogram,
 * which Prometheus tolerates. Routes are labelled by their path in the
 * route table, never by the request's path: labels stay few and carry no
 * personal data.
 *
 * The outbox figures need the database; when it cannot answer, the scrape
 * still succeeds and says so with warden_outbox_up 0.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dbcall.h"
#include "dbpool.h"
#include "decisions.h"
#include "identity.h"
#include "listener.h"
#include "ratelimit.h"
#include "rediscall.h"
#include "replicas.h"
#include "routes.h"
#include "shared.h"
#include "verifier.h"

static const unsigned metrics_codes[] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 431, 500, 501,
	503, 504
};

#define NCODES (sizeof(metrics_codes) / sizeof(metrics_codes[0]))
#define OTHER_CODE NCODES

/* Upper bounds of the latency buckets, in microseconds. */
static const unsigned long metrics_bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000
};

#define NBUCKETS (sizeof(metrics_bounds_us) / sizeof(metrics_bounds_us[0]))

typedef struct RouteMetrics
{
	atomic_ulong codes[NCODES + 1];
	atomic_ulong buckets[NBUCKETS];	/* not cumulative; summed at scrape */
	atomic_ulong count;
	atomic_ulong sum_us;
} RouteMetrics;

static RouteMetrics *metrics_routes;	/* one per route, then "unmatched" */
static const HttpRoute *metrics_table;
static size_t metrics_nroutes;
static int	metrics_timeout_ms = 1000;
static const char *metrics_version = "";

bool
metrics_init(int db_timeout_ms, const char *version)
{
	metrics_table = routes_all(&metrics_nroutes);
	metrics_routes = calloc(metrics_nroutes + 1, sizeof(RouteMetrics));
	/* a scrape must not wait as long as a request may */
	metrics_timeout_ms = db_timeout_ms < 1000 ? db_timeout_ms : 1000;
	metrics_version = version;
	return metrics_routes != NULL;
}

void
metrics_observe(const HttpRoute *route, unsigned status, double ms)
{
	RouteMetrics *m;
	unsigned long us = ms > 0 ? (unsigned long) (ms * 1000.0) : 0;
	size_t		i;

	if (metrics_routes == NULL)
		return;
	m = &metrics_routes[route != NULL ? (size_t) (route - metrics_table) : metrics_nroutes];
	for (i = 0; i < NCODES && metrics_codes[i] != status; i++)
		;
	atomic_fetch_add_explicit(&m->codes[i], 1, memory_order_relaxed);
	for (i = 0; i < NBUCKETS && us > metrics_bounds_us[i]; i++)
		;
	if (i < NBUCKETS)
		atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, us, memory_order_relaxed);
}

/* --- the exposition ------------------------------------------------------ */

typedef struct Text
{
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		failed;
} Text;

static void
text_printf(Text *t, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (t->failed)
		return;
	for (;;)
	{
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
		{
			t->failed = true;
			return;
		}
		if ((size_t) n < t->cap - t->len)
		{
			t->len += (size_t) n;
			return;
		}
		{
			size_t		cap = t->cap * 2 + (size_t) n;
			char	   *grown = realloc(t->buf, cap);

			if (grown == NULL)
			{
				t->failed = true;
				return;
			}
			t->buf = grown;
			t->cap = cap;
		}
	}
}

static void
text_family(Text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void
text_single(Text *t, const char *name, const char *type, const char *help, double value)
{
	text_family(t, name, type, help);
	text_printf(t, "%s %.17g\n", name, value);
}

static const char *
route_label(size_t i)
{
	return i < metrics_nroutes ? metrics_table[i].path : "unmatched";
}

static void
metrics_requests(Text *t)
{
	size_t		r;
	size_t		c;

	text_family(t, "warden_edge_requests_total", "counter",
				"HTTP requests answered, by route (as in the route table) and status code.");
	for (r = 0; r <= metrics_nroutes; r++)
		for (c = 0; c <= NCODES; c++)
		{
			unsigned long n = atomic_load_explicit(&metrics_routes[r].codes[c], memory_order_relaxed);

			if (n == 0)
				continue;
			if (c < NCODES)
				text_printf(t, "warden_edge_requests_total{route=\"%s\",code=\"%u\"} %lu\n",
							route_label(r), metrics_codes[c], n);
			else
				text_printf(t, "warden_edge_requests_total{route=\"%s\",code=\"other\"} %lu\n",
							route_label(r), n);
		}

	text_family(t, "warden_edge_request_duration_seconds", "histogram",
				"Time from the request's headers to its answer, by route.");
	for (r = 0; r <= metrics_nroutes; r++)
	{
		RouteMetrics *m = &metrics_routes[r];
		unsigned long count = atomic_load_explicit(&m->count, memory_order_relaxed);
		unsigned long cumulative = 0;
		size_t		b;

		if (count == 0)
			continue;
		for (b = 0; b < NBUCKETS; b++)
		{
			cumulative += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
			text_printf(t, "warden_edge_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
						route_label(r), metrics_bounds_us[b] / 1e6, cumulative);
		}
		/* +Inf is the count; it can never be below a bucket read before it */
		if (count < cumulative)
			count = cumulative;
		text_printf(t, "warden_edge_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n",
					route_label(r), count);
		text_printf(t, "warden_edge_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
					route_label(r),
					atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
		text_printf(t, "warden_edge_request_duration_seconds_count{route=\"%s\"} %lu\n",
					route_label(r), count);
	}
}

static void
metrics_process(Text *t)
{
	text_family(t, "warden_edge_build_info", "gauge", "The edge's version, as a label.");
	text_printf(t, "warden_edge_build_info{version=\"%s\"} 1\n", metrics_version);
	text_single(t, "warden_edge_requests_in_flight", "gauge",
				"Requests received and not yet answered.", http_in_flight());
	text_single(t, "warden_edge_db_pool_busy", "gauge",
				"PostgreSQL connections running a statement for a request.",
				dbpool_busy(dbcall_primary()));
	text_single(t, "warden_edge_db_pool_waiting", "gauge",
				"Requests waiting for a PostgreSQL connection.",
				dbpool_waiting(dbcall_primary()));
	text_single(t, "warden_edge_db_unavailable_total", "counter",
				"Statements PostgreSQL could not run in time (their requests got 503, or went without the figures).",
				(double) dbcall_unavailable_total());
	text_single(t, "warden_edge_db_batched_total", "counter",
				"Database calls sent in one round trip together with others (a busy pool pipelines them).",
				(double) dbpool_batched_total(dbcall_primary()));
}

/* Reads by pool, fallbacks to the primary, and each read replica (replicas.c). */
static void
metrics_replicas(Text *t)
{
	ReplicaInfo r;
	int			i;

	text_family(t, "warden_edge_db_reads_total", "counter",
				"/v1/rpc calls of functions that cannot write (STABLE, IMMUTABLE), by the "
				"pool that ran them: primary, or a read replica.");
	text_printf(t, "warden_edge_db_reads_total{pool=\"primary\"} %lu\n",
				replicas_primary_reads());
	for (i = 0; replicas_info(i, &r); i++)
		text_printf(t, "warden_edge_db_reads_total{pool=\"%s\"} %lu\n", r.name, r.reads);
	text_family(t, "warden_edge_db_read_fallbacks_total", "counter",
				"Reads sent to the primary although read replicas are configured, by reason: "
				"down, lag, lsn (the client's write not replayed yet), unavailable (no "
				"connection in time), error (a standby's error, retried on the primary).");
	for (i = 0; i < REPLICA_NFALLBACKS; i++)
		text_printf(t, "warden_edge_db_read_fallbacks_total{reason=\"%s\"} %lu\n",
					replicas_fallback_names[i], replicas_fallbacks((ReplicaFallback) i));
	text_family(t, "warden_edge_replica_up", "gauge",
				"1 while the read replica answers its probes as a standby.");
	for (i = 0; replicas_info(i, &r); i++)
		text_printf(t, "warden_edge_replica_up{replica=\"%s\"} %d\n", r.name,
					r.status == REPLICA_UP && !r.stale);
	text_family(t, "warden_edge_replica_lag_seconds", "gauge",
				"How long ago the primary had WAL the read replica has not replayed "
				"(to within a probe interval); none while it is down.");
	for (i = 0; replicas_info(i, &r); i++)
		if (r.lag_seconds >= 0)
			text_printf(t, "warden_edge_replica_lag_seconds{replica=\"%s\"} %.3f\n",
						r.name, r.lag_seconds);
	text_family(t, "warden_edge_replica_pool_busy", "gauge",
				"Connections to the read replica running a statement for a request.");
	for (i = 0; replicas_info(i, &r); i++)
		text_printf(t, "warden_edge_replica_pool_busy{replica=\"%s\"} %d\n", r.name, r.busy);
	text_family(t, "warden_edge_replica_pool_waiting", "gauge",
				"Requests waiting for a connection to the read replica.");
	for (i = 0; replicas_info(i, &r); i++)
		text_printf(t, "warden_edge_replica_pool_waiting{replica=\"%s\"} %d\n", r.name,
					r.waiting);
}

/* Token verification, the caches, and the policy stream. */
static void
metrics_auth(Text *t)
{
	VerifierStats v;
	size_t		entries;

	verifier_stats(&v);
	text_family(t, "warden_edge_token_verifications_total", "counter",
				"Access tokens verified in the edge, by result.");
	text_printf(t, "warden_edge_token_verifications_total{result=\"valid\"} %llu\n",
				(unsigned long long) v.ok);
	text_printf(t, "warden_edge_token_verifications_total{result=\"invalid\"} %llu\n",
				(unsigned long long) v.invalid);
	struct
	{
		const char *name;
		uint64_t	hits;
		uint64_t	misses;
	}			caches[4] = {{"token", v.cache_hits, v.cache_misses}, {"decision", 0, 0},
	{"api_key", 0, 0}, {"redis", 0, 0}};

	decisions_stats(&caches[1].hits, &caches[1].misses, &entries);
	identity_api_key_stats(&caches[2].hits, &caches[2].misses);
	shared_stats(&caches[3].hits, &caches[3].misses);
	text_family(t, "warden_edge_cache_hits_total", "counter",
				"Lookups a cache answered: token, decision and api_key in process, "
				"redis shared by the edges (decisions and API keys).");
	for (int i = 0; i < 4; i++)
		text_printf(t, "warden_edge_cache_hits_total{cache=\"%s\"} %llu\n",
					caches[i].name, (unsigned long long) caches[i].hits);
	text_family(t, "warden_edge_cache_misses_total", "counter",
				"Lookups a cache could not answer, by cache.");
	for (int i = 0; i < 4; i++)
		text_printf(t, "warden_edge_cache_misses_total{cache=\"%s\"} %llu\n",
					caches[i].name, (unsigned long long) caches[i].misses);
	text_single(t, "warden_edge_decisions_cached", "gauge",
				"Authorization decisions held in process.", (double) entries);
	text_single(t, "warden_edge_signing_keys", "gauge",
				"Signing keys the edge verifies with.", (double) v.keys);
	text_single(t, "warden_edge_revoked_tokens", "gauge",
				"Revoked access tokens the edge knows of (until they expire).",
				(double) v.revoked);
	text_single(t, "warden_edge_policy_version", "gauge",
				"The authorization policy version the edge's decisions follow.",
				(double) decisions_policy_version());
	text_single(t, "warden_edge_policy_stream_up", "gauge",
				"1 while the edge listens to the database's changes.",
				listener_connected_now() ? 1 : 0);
	text_single(t, "warden_edge_policy_stream_reconnects_total", "counter",
				"Times the policy stream was lost and made again.",
				(double) listener_reconnects_total());
}

/* The Redis thread's connection (edge/rediscall.c). */
static void
metrics_redis(Text *t)
{
	RedisCallStats r;

	rediscall_stats(&r);
	text_single(t, "warden_redis_up", "gauge",
				"1 while the edge's Redis connection is up.", r.up);
	text_single(t, "warden_redis_commands_total", "counter",
				"Redis commands answered (error replies included).", (double) r.commands);
	text_single(t, "warden_redis_errors_total", "counter",
				"Redis failures: commands without a reply (Redis down, timed out, connection lost, queue full) and failed connection attempts.",
				(double) r.errors);
	text_single(t, "warden_redis_reconnects_total", "counter",
				"Redis connections made again after one was lost or could not be made.",
				(double) r.reconnects);
	text_single(t, "warden_redis_queued", "gauge",
				"Redis commands waiting to be sent.", r.queued);
}

/* The rate limiter (edge/ratelimit.c). */
static void
metrics_ratelimit(Text *t)
{
	RateLimitStats r;

	ratelimit_stats(&r);
	text_family(t, "warden_edge_rate_limited_total", "counter",
				"Requests refused with 429, by the limit that refused them.");
	text_printf(t, "warden_edge_rate_limited_total{limit=\"ip\"} %lu\n", r.limited_ip);
	text_printf(t, "warden_edge_rate_limited_total{limit=\"principal\"} %lu\n", r.limited_principal);
	text_printf(t, "warden_edge_rate_limited_total{limit=\"login_ip\"} %lu\n", r.limited_login_ip);
	text_printf(t, "warden_edge_rate_limited_total{limit=\"login_user\"} %lu\n", r.limited_login_user);
	text_single(t, "warden_edge_rate_limit_local_total", "counter",
				"Rate-limit checks decided in process because Redis could not answer.",
				(double) r.local);
}

/* The outbox, from warden.outbox_stats() as JSON (NULL: unavailable). */
static void
metrics_outbox(Text *t, json_t *s)
{
	static const struct
	{
		const char *key;
		const char *name;
		const char *type;
		const char *help;
	}			fields[] = {
		{"pending", "warden_outbox_pending", "gauge",
		"Committed outbox messages not yet acknowledged by the broker."},
		{"oldest_pending_seconds", "warden_outbox_oldest_pending_seconds", "gauge",
		"Age of the oldest pending outbox message."},
		{"retrying", "warden_outbox_retrying", "gauge",
		"Pending outbox messages that failed at least once."},
		{"dead", "warden_outbox_dead", "gauge",
		"Outbox messages that failed warden.outbox_max_attempts times."},
		{"delivered_total", "warden_outbox_delivered_total", "counter",
		"Outbox messages acknowledged by the broker since the server started."},
		{"failed_total", "warden_outbox_failed_total", "counter",
		"Failed outbox delivery attempts since the server started."},
		{"workers_connected", "warden_outbox_workers_connected", "gauge",
		"Outbox workers connected to the broker."},
	};
	size_t		i;

	text_single(t, "warden_outbox_up", "gauge",
				"1 when the outbox figures below could be read from PostgreSQL.", s != NULL);
	if (s == NULL)
		return;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
	{
		json_t	   *v = json_object_get(s, fields[i].key);

		text_single(t, fields[i].name, fields[i].type, fields[i].help,
					json_is_number(v) ? json_number_value(v) : 0.0);
	}
}

static bool
metrics_complete(HttpRequest *req)
{
	const DbCallResult *r = dbcall_result(req);
	json_t	   *stats = r->value != NULL ? json_loads(r->value, 0, NULL) : NULL;
	Text		t = {0};

	t.cap = 8192;
	t.buf = malloc(t.cap);
	if (t.buf == NULL)
	{
		json_decref(stats);
		return false;
	}
	t.buf[0] = '\0';
	metrics_requests(&t);
	metrics_process(&t);
	metrics_replicas(&t);
	metrics_auth(&t);
	metrics_redis(&t);
	metrics_ratelimit(&t);
	metrics_outbox(&t, stats);
	json_decref(stats);
	if (t.failed)
	{
		free(t.buf);
		return false;
	}
	return http_respond_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", t.buf);
}

bool
metrics_handle(HttpRequest *req)
{
	return dbcall_submit(req,
						 "SELECT json_build_object('pending', pending,"
						 " 'oldest_pending_seconds', coalesce(extract(epoch FROM oldest_pending_age), 0),"
						 " 'retrying', retrying, 'dead', dead, 'delivered_total', delivered_total,"
						 " 'failed_total', failed_total,"
						 " 'workers_connected', (SELECT count(*) FROM jsonb_array_elements(workers) w"
						 " WHERE (w->>'connected')::boolean))::text"
						 " FROM warden.outbox_stats()",
						 0, NULL, metrics_timeout_ms, metrics_complete, 0);
}
