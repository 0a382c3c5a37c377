/*
 * replicas.c
 *		Read replicas: a pool per WARDEN_DATABASE_READ_URL entry, a prober
 *		thread that follows each replica, and where a read goes.
 *
 * A read (a /v1/rpc call of a STABLE or IMMUTABLE function) goes to a
 * replica that is up, is still a standby, answered its last probe recently
 * and lags no more than WARDEN_REPLICA_MAX_LAG_MS, taken in turn; else to
 * the primary, counted as a fallback with its reason. A read carrying a
 * Warden-LSN (the client's last write) goes to a replica whose probed
 * replay position is at or past it; failing that, to one that qualifies
 * otherwise, with replicas_guard_sql in front of the call, which checks the
 * replay position in the same round trip and fails if the replica has not
 * replayed the LSN yet (the caller then asks the primary): a local
 * standby replays within milliseconds, far sooner than the next probe.
 *
 * The lag. Every WARDEN_REPLICA_PROBE_INTERVAL_MS the prober reads the
 * primary's WAL insert position and remembers when it first saw each new
 * one (a ring covering WARDEN_REPLICA_MAX_LAG_MS), then each replica's
 * replay position. A replica's lag is the age of the oldest remembered
 * primary position it has not replayed: how long ago the primary had WAL
 * the replica still lacks, to within one interval; 0 when it has replayed
 * everything seen. Unlike now() - pg_last_xact_replay_timestamp(), this
 * does not grow while the primary is idle, and does grow when the replica
 * stops receiving (its receive and replay positions then agree, and the
 * usual receive-equals-replay test would call it current). While the
 * primary cannot be read, the lag is computed on what was seen before.
 *
 * The prober's connections are its own (one to the primary, one per
 * replica), blocking with deadlines (pgconn.c), each probe bounded by
 * WARDEN_HEALTH_TIMEOUT_MS. A replica whose last answer is older than
 * 3 intervals and 2 timeouts counts as down, so a stuck prober never
 * keeps a replica in use.
 *
 * Locking: what choose() reads is atomic (status, lag, replay position,
 * time of the last answer); replicas_lock guards the status-change times
 * and the prober's stop flag. The sample ring and the connections are the
 * prober thread's own. The array of replicas is fixed by replicas_start()
 * and freed by replicas_free(), after every thread using it is gone.
 */
#include "replicas.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"
#include "pglsn.h"
#include "timeutil.h"

#define REPLICAS_PROBE_SQL \
	"SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.pg_last_wal_replay_lsn()::pg_catalog.text"
#define REPLICAS_PRIMARY_SQL "SELECT pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text"
#define REPLICAS_REASON_MAX 256

/*
 * 1 / 0 when the replica has not replayed $1: an error (22012) aborts the
 * call behind it in the same transaction, which a false value would not.
 * pg_last_wal_replay_lsn() is NULL on a server that never was a standby.
 */
const char *const replicas_guard_sql =
"SELECT 1 OPERATOR(pg_catalog./) (COALESCE(pg_catalog.pg_last_wal_replay_lsn()"
" OPERATOR(pg_catalog.>=) $1::pg_catalog.pg_lsn, false))::pg_catalog.int4";

const char *const replicas_fallback_names[] = {
	"down", "lag", "lsn", "unavailable", "error"
};

typedef struct Replica
{
	char		name[24];
	char	   *conninfo;
	DbPool	   *pool;

	/* published by the prober */
	atomic_int	status;			/* ReplicaStatus */
	atomic_long lag_ms;			/* -1: unknown */
	atomic_ullong replay_lsn;
	atomic_llong answered_ms;	/* monotonic; 0: never */
	struct timespec since;		/* under replicas_lock */
	bool		lagging;		/* the prober's, for logging changes */

	atomic_ulong reads;

	PGconn	   *conn;			/* the prober's */
} Replica;

typedef struct LsnSample
{
	uint64_t	lsn;
	int64_t		at_ms;
} LsnSample;

static Replica *replicas;
static int	nreplicas;
static const EdgeConfig *replicas_cfg;
static int64_t replicas_stale_ms;
static atomic_uint replicas_turn;
static atomic_ulong replicas_primary_read_count;
static atomic_ulong replicas_fallback_count[REPLICA_NFALLBACKS];

static pthread_mutex_t replicas_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t replicas_wake;
static bool replicas_stopping;
static bool replicas_running;
static pthread_t replicas_thread;

/* the prober's own */
static PGconn *replicas_primary;
static LsnSample *replicas_samples;
static int	replicas_nsamples;
static int	replicas_cap;
static int	replicas_oldest;

/* --- configuration ------------------------------------------------------- */

bool
replicas_configure(const EdgeConfig *cfg, char *err, size_t errlen)
{
	const ReplicaUrls *u = &cfg->replicas;

	replicas_cfg = cfg;
	if (u->n == 0)
		return true;
	replicas = calloc((size_t) u->n, sizeof(Replica));
	if (replicas == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	nreplicas = u->n;
	for (int i = 0; i < u->n; i++)
	{
		Replica    *r = &replicas[i];

		snprintf(r->name, sizeof(r->name), "replica-%d", i + 1);
		atomic_init(&r->status, REPLICA_UNKNOWN);
		atomic_init(&r->lag_ms, -1);
		r->since = timeutil_wall_now();
		r->conninfo = strndup(cfg->database_read_url + u->url[i].offset, u->url[i].length);
		if (r->conninfo == NULL)
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
		/* libpq would only say so at the first connection, after start-up */
		if (!pgconn_conninfo_valid(r->conninfo))
		{
			snprintf(err, errlen, "WARDEN_DATABASE_READ_URL: replica %d is not a valid "
					 "libpq connection URL", i + 1);
			return false;
		}
	}
	/* samples cover the longest lag that matters, and two more rounds */
	replicas_cap = cfg->replica_max_lag_ms / cfg->replica_probe_interval_ms + 2;
	replicas_samples = calloc((size_t) replicas_cap, sizeof(LsnSample));
	if (replicas_samples == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	replicas_stale_ms = 3 * (int64_t) cfg->replica_probe_interval_ms +
		2 * (int64_t) cfg->health_timeout_ms;
	return true;
}

int
replicas_count(void)
{
	return nreplicas;
}

DbPool *
replicas_pool(int i)
{
	return i >= 0 && i < nreplicas ? replicas[i].pool : NULL;
}

/* --- the prober ---------------------------------------------------------- */

/* Runs sql on *conn (connecting first if need be); its result, or NULL. */
static PGresult *
replicas_query(PGconn **conn, const char *conninfo, const char *sql,
			   char *why, size_t whylen)
{
	int64_t		deadline = timeutil_mono_ms() + replicas_cfg->health_timeout_ms;
	PGresult   *res;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (*conn == NULL &&
			(*conn = pgconn_connect(conninfo, deadline, why, whylen)) == NULL)
			return NULL;
		res = pgconn_query(*conn, sql, 0, NULL, deadline, why, whylen);
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			return res;
		if (res != NULL)
			snprintf(why, whylen, "query: %.*s",
					 (int) strcspn(PQresultErrorMessage(res), "\n"),
					 PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(*conn);
		*conn = NULL;
		/* a connection that failed at once (the server restarted): once more */
		if (timeutil_mono_ms() >= deadline - 50)
			break;
	}
	return NULL;
}

/* The primary's insert position, remembered when it is new. */
static void
replicas_sample_primary(void)
{
	char		why[REPLICAS_REASON_MAX];
	PGresult   *res = replicas_query(&replicas_primary, replicas_cfg->database_url,
									 REPLICAS_PRIMARY_SQL, why, sizeof(why));
	uint64_t	lsn;
	const char *text;
	int			newest;

	if (res == NULL)
		return;					/* the health check reports the primary */
	text = PQgetvalue(res, 0, 0);
	if (!PQgetisnull(res, 0, 0) && pglsn_parse(text, strlen(text), &lsn))
	{
		newest = (replicas_oldest + replicas_nsamples - 1) % replicas_cap;
		if (replicas_nsamples == 0 || replicas_samples[newest].lsn < lsn)
		{
			LsnSample	s = {lsn, timeutil_mono_ms()};

			if (replicas_nsamples == replicas_cap)
			{
				replicas_oldest = (replicas_oldest + 1) % replicas_cap;
				replicas_nsamples--;
			}
			replicas_samples[(replicas_oldest + replicas_nsamples) % replicas_cap] = s;
			replicas_nsamples++;
		}
	}
	PQclear(res);
}

/* The age of the oldest remembered primary position past replay. */
static long
replicas_lag(uint64_t replay, int64_t now)
{
	for (int k = 0; k < replicas_nsamples; k++)
	{
		const LsnSample *s = &replicas_samples[(replicas_oldest + k) % replicas_cap];

		if (s->lsn > replay)
			return (long) (now - s->at_ms);
	}
	return 0;
}

/* Publishes a replica's status; logs changes only, once each. */
static void
replicas_set_status(Replica *r, ReplicaStatus status, const char *why)
{
	ReplicaStatus was = (ReplicaStatus) atomic_exchange(&r->status, (int) status);

	if (was == status)
		return;
	pthread_mutex_lock(&replicas_lock);
	r->since = timeutil_wall_now();
	pthread_mutex_unlock(&replicas_lock);
	if (status == REPLICA_UP)
		log_write(LOG_LEVEL_INFO, "read replica up", "{s:s}", "replica", r->name);
	else if (status == REPLICA_NOT_STANDBY)
		log_write(LOG_LEVEL_WARN, "read replica is not a standby (promoted?): not used",
				  "{s:s}", "replica", r->name);
	else
		log_write(LOG_LEVEL_WARN, "read replica down", "{s:s, s:s}",
				  "replica", r->name, "reason", why);
}

static void
replicas_probe(Replica *r)
{
	char		why[REPLICAS_REASON_MAX] = "";
	PGresult   *res = replicas_query(&r->conn, r->conninfo, REPLICAS_PROBE_SQL,
									 why, sizeof(why));
	int64_t		now = timeutil_mono_ms();
	uint64_t	replay = 0;
	const char *text;
	long		lag;
	bool		lagging;

	if (res == NULL)
	{
		atomic_store(&r->lag_ms, -1);
		replicas_set_status(r, REPLICA_DOWN, why);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
	{
		PQclear(res);
		atomic_store(&r->lag_ms, -1);
		atomic_store(&r->answered_ms, now);
		replicas_set_status(r, REPLICA_NOT_STANDBY, "not in recovery");
		return;
	}
	text = PQgetvalue(res, 0, 1);
	if (PQgetisnull(res, 0, 1) || !pglsn_parse(text, strlen(text), &replay))
		replay = 0;
	PQclear(res);
	lag = replicas_lag(replay, now);
	atomic_store(&r->replay_lsn, replay);
	atomic_store(&r->lag_ms, lag);
	atomic_store(&r->answered_ms, now);
	replicas_set_status(r, REPLICA_UP, "");
	lagging = lag > replicas_cfg->replica_max_lag_ms;
	if (lagging != r->lagging)
	{
		r->lagging = lagging;
		log_write(lagging ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
				  lagging ? "read replica lags: not used until it catches up" :
				  "read replica caught up", "{s:s, s:i}",
				  "replica", r->name, "lag_ms", (int) (lag > 0x7fffffff ? 0x7fffffff : lag));
	}
}

/* Sleeps until deadline_ms (monotonic) or a stop request; true on stop. */
static bool
replicas_sleep_until(int64_t deadline_ms)
{
	struct timespec until;
	bool		stop;

	until.tv_sec = (time_t) (deadline_ms / 1000);
	until.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
	pthread_mutex_lock(&replicas_lock);
	while (!replicas_stopping && timeutil_mono_ms() < deadline_ms)
		(void) pthread_cond_timedwait(&replicas_wake, &replicas_lock, &until);
	stop = replicas_stopping;
	pthread_mutex_unlock(&replicas_lock);
	return stop;
}

static void *
replicas_main(void *arg)
{
	int64_t		started = timeutil_mono_ms();

	(void) arg;
	while (!replicas_sleep_until(started))
	{
		started = timeutil_mono_ms();
		/* the primary first: a replica read after it may be at or past it */
		replicas_sample_primary();
		for (int i = 0; i < nreplicas; i++)
			replicas_probe(&replicas[i]);
		/* start to start; a round that overran starts the next at once */
		started += replicas_cfg->replica_probe_interval_ms;
	}
	PQfinish(replicas_primary);
	replicas_primary = NULL;
	for (int i = 0; i < nreplicas; i++)
	{
		PQfinish(replicas[i].conn);
		replicas[i].conn = NULL;
	}
	return NULL;
}

bool
replicas_start(int shards, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	int			rc;

	if (nreplicas == 0)
		return true;
	for (int i = 0; i < nreplicas; i++)
	{
		Replica    *r = &replicas[i];

		r->pool = dbpool_start(r->name, r->conninfo, replicas_cfg->db_pool_size,
							   replicas_cfg->db_queue_max, replicas_cfg->db_timeout_ms,
							   shards, err, errlen);
		if (r->pool == NULL)
			return false;
	}
	if ((rc = pthread_condattr_init(&attr)) != 0 ||
		(rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
		(rc = pthread_cond_init(&replicas_wake, &attr)) != 0)
	{
		snprintf(err, errlen, "replicas: condition variable: %s", strerror(rc));
		return false;
	}
	pthread_condattr_destroy(&attr);
	if ((rc = pthread_create(&replicas_thread, NULL, replicas_main, NULL)) != 0)
	{
		snprintf(err, errlen, "replicas: cannot start the prober thread: %s", strerror(rc));
		pthread_cond_destroy(&replicas_wake);
		return false;
	}
	replicas_running = true;
	log_write(LOG_LEVEL_INFO, "read replicas", "{s:i, s:i, s:i}", "replicas", nreplicas,
			  "max_lag_ms", replicas_cfg->replica_max_lag_ms,
			  "probe_interval_ms", replicas_cfg->replica_probe_interval_ms);
	return true;
}

void
replicas_stop(void)
{
	if (replicas_running)
	{
		pthread_mutex_lock(&replicas_lock);
		replicas_stopping = true;
		pthread_cond_signal(&replicas_wake);
		pthread_mutex_unlock(&replicas_lock);
		pthread_join(replicas_thread, NULL);
		pthread_cond_destroy(&replicas_wake);
		replicas_running = false;
	}
	for (int i = 0; i < nreplicas; i++)
		dbpool_stop(replicas[i].pool);
}

void
replicas_free(void)
{
	for (int i = 0; i < nreplicas; i++)
	{
		dbpool_free(replicas[i].pool);
		if (replicas[i].conninfo != NULL)
		{
			/* it may hold a password */
			explicit_bzero(replicas[i].conninfo, strlen(replicas[i].conninfo));
			free(replicas[i].conninfo);
		}
	}
	free(replicas);
	replicas = NULL;
	nreplicas = 0;
	free(replicas_samples);
	replicas_samples = NULL;
}

/* --- routing ------------------------------------------------------------- */

/* Up, a standby, answered lately: usable, lag aside. */
static bool
replicas_usable(Replica *r, int64_t now)
{
	return atomic_load_explicit(&r->status, memory_order_relaxed) == REPLICA_UP &&
		now - atomic_load_explicit(&r->answered_ms, memory_order_relaxed) <= replicas_stale_ms;
}

void
replicas_choose(uint64_t lsn, ReplicaChoice *out)
{
	int64_t		now;
	unsigned	turn;
	int			guarded = -1;
	bool		any_up = false;

	out->pool = NULL;
	out->index = -1;
	out->guard = false;
	out->why = REPLICA_FALLBACK_DOWN;
	if (nreplicas == 0)
		return;
	now = timeutil_mono_ms();
	turn = atomic_fetch_add_explicit(&replicas_turn, 1, memory_order_relaxed);
	for (int k = 0; k < nreplicas; k++)
	{
		int			i = (int) ((turn + (unsigned) k) % (unsigned) nreplicas);
		Replica    *r = &replicas[i];

		if (!replicas_usable(r, now))
			continue;
		any_up = true;
		if (atomic_load_explicit(&r->lag_ms, memory_order_relaxed) >
			replicas_cfg->replica_max_lag_ms)
			continue;
		if (lsn == 0 || atomic_load_explicit(&r->replay_lsn, memory_order_relaxed) >= lsn)
		{
			out->pool = r->pool;
			out->index = i;
			return;
		}
		if (guarded < 0)
			guarded = i;
	}
	if (guarded >= 0)
	{
		out->pool = replicas[guarded].pool;
		out->index = guarded;
		out->guard = true;
		return;
	}
	out->why = any_up ? REPLICA_FALLBACK_LAG : REPLICA_FALLBACK_DOWN;
}

bool
replicas_retry_on_primary(const char *sqlstate, bool has_context)
{
	static const char *const states[] = {
		"25006",				/* read-only transaction: it tried to write */
		"40001",				/* a recovery conflict cancelled it */
		"40P01",				/* the same, over a lock */
		"55000",				/* WAL functions and the like refuse a standby */
		"57P01", "57P02", "57P03",	/* shutting down, crashed, starting up */
	};

	/*
	 * Not replayed yet: the function (or an overload, or a changed result
	 * type) that the primary's catalog has, raised before anything ran.
	 */
	if (!has_context && (strcmp(sqlstate, "42883") == 0 || strcmp(sqlstate, "42725") == 0 ||
						 strcmp(sqlstate, "0A000") == 0))
		return true;
	if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "53", 2) == 0)
		return true;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(sqlstate, states[i]) == 0)
			return true;
	return false;
}

/* --- counters ------------------------------------------------------------ */

void
replicas_read_served(int index)
{
	if (index < 0 || index >= nreplicas)
		atomic_fetch_add_explicit(&replicas_primary_read_count, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&replicas[index].reads, 1, memory_order_relaxed);
}

void
replicas_fell_back(ReplicaFallback why)
{
	atomic_fetch_add_explicit(&replicas_fallback_count[why], 1, memory_order_relaxed);
}

unsigned long
replicas_primary_reads(void)
{
	return atomic_load(&replicas_primary_read_count);
}

unsigned long
replicas_fallbacks(ReplicaFallback why)
{
	return atomic_load(&replicas_fallback_count[why]);
}

bool
replicas_info(int i, ReplicaInfo *out)
{
	Replica    *r;
	long		lag;
	int64_t		now = timeutil_mono_ms();

	if (i < 0 || i >= nreplicas)
		return false;
	r = &replicas[i];
	out->name = r->name;
	out->status = (ReplicaStatus) atomic_load(&r->status);
	out->stale = out->status == REPLICA_UP && !replicas_usable(r, now);
	lag = atomic_load(&r->lag_ms);
	out->lag_seconds = lag < 0 ? -1.0 : (double) lag / 1000.0;
	out->lagging = lag > replicas_cfg->replica_max_lag_ms;
	out->reads = atomic_load(&r->reads);
	out->busy = r->pool != NULL ? dbpool_busy(r->pool) : 0;
	out->waiting = r->pool != NULL ? dbpool_waiting(r->pool) : 0;
	pthread_mutex_lock(&replicas_lock);
	out->since = r->since;
	pthread_mutex_unlock(&replicas_lock);
	return true;
}
