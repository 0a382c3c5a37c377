/*
 * health.c
 *		Liveness and readiness of the edge.
 *
 * GET /healthz answers 200 while the process runs: it is the liveness probe
 * and must not depend on anything else. GET /readyz answers 200 only when
 * PostgreSQL and Redis both answered the last probe and the edge is not
 * draining, otherwise 503 naming what is down.
 *
 * Handlers never touch PostgreSQL or Redis: the HTTP workers must not block
 * on a dependency, and a readiness probe from every load balancer must not
 * become load on it. One prober thread owns one libpq and one hiredis
 * connection and probes both every WARDEN_HEALTH_INTERVAL_MS, each probe
 * bounded by WARDEN_HEALTH_TIMEOUT_MS (a hung server is reported down, not
 * waited for). A failed connection is dropped and replaced on the next
 * probe; a connection that fails at once (the server restarted) is replaced
 * within the same probe, so a restart alone does not flap readiness.
 *
 * Read replicas (WARDEN_DATABASE_READ_URL) are probed by replicas.c, whose
 * state /readyz reports beside these, one check per replica: one that is
 * down, lagging or promoted leaves the edge degraded at most, never
 * unready, since the primary serves its reads meanwhile.
 *
 * If the prober itself stops completing rounds, its last results would lie:
 * after 3 intervals plus 2 timeouts (a round is two probes, each up to one
 * timeout) without a completed round, every check reads "stale".
 *
 * Locking: health.lock protects stop, checks[] and the last-round times;
 * the prober holds it only to publish a result, /readyz only to copy them.
 * The connections (pg, redis) belong to the prober thread alone. cfg and
 * stale_after_ms are set before the thread starts and never change.
 */
#include "health.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "listener.h"
#include "log.h"
#include "pgconn.h"
#include "redisconn.h"
#include "replicas.h"
#include "timeutil.h"
#include "verifier.h"

#define HEALTH_REASON_MAX 256
/* Reconnecting within a probe is only worth it with this much time left. */
#define HEALTH_RETRY_MIN_MS 50

typedef enum HealthStatus
{
	HEALTH_UNKNOWN,				/* not probed yet */
	HEALTH_UP,
	HEALTH_DOWN
} HealthStatus;

typedef enum HealthCheckId
{
	HEALTH_POSTGRESQL,
	HEALTH_REDIS,
	HEALTH_POLICY_STREAM,		/* listener.c: LISTEN connection and state */
	HEALTH_NCHECKS
} HealthCheckId;

typedef struct HealthCheck
{
	const char *name;
	HealthStatus status;
	struct timespec since;		/* wall clock of the last change */
} HealthCheck;

static struct
{
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* signalled to stop the prober */
	bool		stop;
	HealthCheck checks[HEALTH_NCHECKS];
	int64_t		last_round_ms;	/* monotonic; 0 before the first round */
	struct timespec last_round_wall;

	/* set before the prober starts */
	const EdgeConfig *cfg;
	int64_t		stale_after_ms;
	pthread_t	thread;
	bool		running;

	/* the prober thread's own */
	PGconn	   *pg;
	redisContext *redis;
}			health = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.checks = {
		[HEALTH_POSTGRESQL] = {.name = "postgresql"},
		[HEALTH_REDIS] = {.name = "redis"},
		[HEALTH_POLICY_STREAM] = {.name = "policy_stream"},
	},
};

/* --- the prober ---------------------------------------------------------- */

static bool
health_probe_postgresql(char *why, size_t whylen)
{
	int64_t		deadline = timeutil_mono_ms() + health.cfg->health_timeout_ms;

	if (health.pg != NULL)
	{
		if (pgconn_select1(health.pg, deadline, why, whylen))
			return true;
		PQfinish(health.pg);
		health.pg = NULL;
		/* a hang used up the time: its reason stands, no retry */
		if (timeutil_mono_ms() >= deadline - HEALTH_RETRY_MIN_MS)
			return false;
	}
	health.pg = pgconn_connect(health.cfg->database_url, deadline,
							   why, whylen);
	if (health.pg == NULL)
		return false;
	if (pgconn_select1(health.pg, deadline, why, whylen))
		return true;
	PQfinish(health.pg);
	health.pg = NULL;
	return false;
}

static bool
health_probe_redis(char *why, size_t whylen)
{
	int64_t		deadline = timeutil_mono_ms() + health.cfg->health_timeout_ms;

	if (health.redis != NULL)
	{
		if (redisconn_ping(health.redis, deadline, why, whylen))
			return true;
		redisFree(health.redis);
		health.redis = NULL;
		/* a hang used up the time: its reason stands, no retry */
		if (timeutil_mono_ms() >= deadline - HEALTH_RETRY_MIN_MS)
			return false;
	}
	health.redis = redisconn_connect(&health.cfg->redis, deadline,
									 why, whylen);
	if (health.redis == NULL)
		return false;
	if (redisconn_ping(health.redis, deadline, why, whylen))
		return true;
	redisFree(health.redis);
	health.redis = NULL;
	return false;
}

/* Publishes one probe's result; logs only changes, once each. */
static void
health_record(HealthCheckId id, bool up, const char *why)
{
	HealthCheck *check = &health.checks[id];
	HealthStatus now = up ? HEALTH_UP : HEALTH_DOWN;
	HealthStatus was;

	pthread_mutex_lock(&health.lock);
	was = check->status;
	if (was != now)
	{
		check->status = now;
		check->since = timeutil_wall_now();
	}
	pthread_mutex_unlock(&health.lock);

	if (was == now)
		return;
	if (up)
		log_write(LOG_LEVEL_INFO, "dependency up", "{s:s}",
				  "dependency", check->name);
	else
		log_write(LOG_LEVEL_WARN, "dependency down", "{s:s, s:s}",
				  "dependency", check->name, "reason", why);
}

/* Sleeps until deadline_ms (monotonic) or a stop request; true on stop. */
static bool
health_sleep_until(int64_t deadline_ms)
{
	struct timespec until;
	bool		stop;

	until.tv_sec = (time_t) (deadline_ms / 1000);
	until.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
	pthread_mutex_lock(&health.lock);
	while (!health.stop && timeutil_mono_ms() < deadline_ms)
		(void) pthread_cond_timedwait(&health.wake, &health.lock, &until);
	stop = health.stop;
	pthread_mutex_unlock(&health.lock);
	return stop;
}

static void *
health_main(void *arg)
{
	char		why[HEALTH_REASON_MAX];
	int64_t		started;
	bool		up;

	(void) arg;
	started = timeutil_mono_ms();
	while (!health_sleep_until(started))
	{
		started = timeutil_mono_ms();

		why[0] = '\0';
		up = health_probe_postgresql(why, sizeof(why));
		health_record(HEALTH_POSTGRESQL, up, why);

		why[0] = '\0';
		up = health_probe_redis(why, sizeof(why));
		health_record(HEALTH_REDIS, up, why);

		/* no probe: the listener knows, and says why in its own log */
		health_record(HEALTH_POLICY_STREAM, listener_connected_now(),
					  "not listening to the database's changes");

		pthread_mutex_lock(&health.lock);
		health.last_round_ms = timeutil_mono_ms();
		health.last_round_wall = timeutil_wall_now();
		pthread_mutex_unlock(&health.lock);

		/* start to start; a round that overran starts the next at once */
		started += health.cfg->health_interval_ms;
	}

	if (health.pg != NULL)
		PQfinish(health.pg);
	if (health.redis != NULL)
		redisFree(health.redis);
	health.pg = NULL;
	health.redis = NULL;
	return NULL;
}

/* Starts the prober; /readyz reads "unknown" until its first round. */
bool
health_start(const EdgeConfig *cfg, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	int			rc;

	health.cfg = cfg;
	health.stale_after_ms = 3 * (int64_t) cfg->health_interval_ms +
		2 * (int64_t) cfg->health_timeout_ms;

	if ((rc = pthread_condattr_init(&attr)) != 0 ||
		(rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
		(rc = pthread_cond_init(&health.wake, &attr)) != 0)
	{
		snprintf(err, errlen, "health: condition variable: %s",
				 strerror(rc));
		return false;
	}
	pthread_condattr_destroy(&attr);

	rc = pthread_create(&health.thread, NULL, health_main, NULL);
	if (rc != 0)
	{
		snprintf(err, errlen, "health: cannot start the prober thread: %s",
				 strerror(rc));
		pthread_cond_destroy(&health.wake);
		return false;
	}
	health.running = true;
	return true;
}

/* Asks the prober to finish its round and exit; does not wait. */
void
health_request_stop(void)
{
	if (!health.running)
		return;
	pthread_mutex_lock(&health.lock);
	health.stop = true;
	pthread_cond_signal(&health.wake);
	pthread_mutex_unlock(&health.lock);
}

/* Stops the prober and waits for it (at most one probe timeout). */
void
health_stop(void)
{
	if (!health.running)
		return;
	health_request_stop();
	pthread_join(health.thread, NULL);
	pthread_cond_destroy(&health.wake);
	health.running = false;
}

/* --- the endpoints ------------------------------------------------------- */

bool
health_handle_live(HttpRequest *req)
{
	return http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* One entry of "checks", adding its name to down unless it is up. */
static json_t *
health_check_json(const HealthCheck *check, bool stale,
				  const struct timespec *stale_since, json_t *down)
{
	char		since[TIMEUTIL_UTC_LEN];

	if (stale)
	{
		json_array_append_new(down, json_string(check->name));
		timeutil_format_utc(stale_since, since);
		return json_pack("{s:s, s:s}", "status", "stale", "since", since);
	}
	switch (check->status)
	{
		case HEALTH_UP:
			return json_pack("{s:s}", "status", "up");
		case HEALTH_DOWN:
			json_array_append_new(down, json_string(check->name));
			timeutil_format_utc(&check->since, since);
			return json_pack("{s:s, s:s}", "status", "down", "since", since);
		case HEALTH_UNKNOWN:
			break;
	}
	json_array_append_new(down, json_string(check->name));
	return json_pack("{s:s}", "status", "unknown");
}

/* A read replica's entry of "checks", adding its name to down unless usable. */
static json_t *
health_replica_json(const ReplicaInfo *r, json_t *down)
{
	char		since[TIMEUTIL_UTC_LEN];
	const char *status;

	if (r->status == REPLICA_UP && !r->stale && !r->lagging)
		return json_pack("{s:s, s:f}", "status", "up", "lag_seconds", r->lag_seconds);
	json_array_append_new(down, json_string(r->name));
	switch (r->status)
	{
		case REPLICA_UP:
			if (r->stale)
				return json_pack("{s:s}", "status", "stale");
			return json_pack("{s:s, s:f}", "status", "lagging", "lag_seconds", r->lag_seconds);
		case REPLICA_DOWN:
			status = "down";
			break;
		case REPLICA_NOT_STANDBY:
			status = "not_standby";
			break;
		case REPLICA_UNKNOWN:
		default:
			return json_pack("{s:s}", "status", "unknown");
	}
	timeutil_format_utc(&r->since, since);
	return json_pack("{s:s, s:s}", "status", status, "since", since);
}

bool
health_handle_ready(HttpRequest *req)
{
	ReplicaInfo replica;
	HealthCheck checks[HEALTH_NCHECKS];
	struct timespec last_round_wall;
	int64_t		last_round_ms;
	json_t	   *body;
	json_t	   *checks_json;
	json_t	   *down;
	bool		stale;
	bool		draining;
	bool		ready;
	int			i;

	pthread_mutex_lock(&health.lock);
	memcpy(checks, health.checks, sizeof(checks));
	last_round_ms = health.last_round_ms;
	last_round_wall = health.last_round_wall;
	pthread_mutex_unlock(&health.lock);

	stale = last_round_ms != 0 &&
		timeutil_mono_ms() - last_round_ms > health.stale_after_ms;
	draining = http_is_draining();

	checks_json = json_object();
	down = json_array();
	for (i = 0; i < HEALTH_NCHECKS; i++)
		json_object_set_new(checks_json, checks[i].name,
							health_check_json(&checks[i], stale,
											  &last_round_wall, down));
	for (i = 0; replicas_info(i, &replica); i++)
		json_object_set_new(checks_json, replica.name, health_replica_json(&replica, down));

	/*
	 * Ready while the edge can give correct answers: it holds the state to
	 * verify tokens, and its prober is alive. A dependency that is down
	 * leaves it degraded, not unready: with Redis down it answers from
	 * PostgreSQL, with PostgreSQL down it still answers valid tokens and
	 * cached decisions, with a read replica down the primary serves its
	 * reads, and a shared dependency down at every replica must not take
	 * all of them out of the load balancer at once.
	 */
	ready = !draining && !stale && verifier_ready();

	if (ready && json_array_size(down) == 0)
	{
		json_decref(down);
		body = json_pack("{s:s, s:o}", "status", "ready",
						 "checks", checks_json);
	}
	else
		body = json_pack("{s:s, s:o, s:o}",
						 "status", draining ? "draining" : ready ? "degraded" : "not_ready",
						 "down", down, "checks", checks_json);
	return http_respond_json(req, ready ? 200 : 503, body);
}
