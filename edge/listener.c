/*
 * listener.c
 *		The edge's one LISTEN connection: it keeps the verifier's state and
 *		the decision cache's policy version in step with the database.
 *
 * The order makes it gapless: LISTEN first, then read warden.edge_state();
 * a change committed in between arrives as a notification after the
 * snapshot that already holds it, and applying a change twice is
 * harmless. Notifications then come in commit order:
 *   warden_policy   the new policy version: decisions made earlier go stale
 *   warden_tokens   one revoked token, a principal's state, or "read the
 *                   keys again" (see warden--0.1.0.sql)
 * A lost connection is made again with back-off, and the state read again
 * in full, since notifications sent meanwhile are lost. While it is down
 * the edge keeps what it has: with PostgreSQL down nothing can be revoked,
 * and /v1/authz keeps answering valid tokens and cached decisions.
 *
 * Every LISTENER_CHECK_MS the connection asks for the policy version: that
 * finds a connection dead without an error (a half-open TCP connection
 * delivers no notifications and no error), and would catch a missed
 * notification.
 *
 * What it learns it also writes to Redis (snapshot.c), and an edge that
 * starts while PostgreSQL is down reads it back from there.
 *
 * One thread; listener_stop() wakes it through a pipe.
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decisions.h"
#include "identity.h"
#include "log.h"
#include "pgconn.h"
#include "snapshot.h"
#include "timeutil.h"
#include "verifier.h"

#define LISTENER_CHECK_MS 5000
#define LISTENER_BACKOFF_MIN_MS 100
#define LISTENER_BACKOFF_MAX_MS 2000

static const char *listener_conninfo;
static int	listener_timeout_ms;
static pthread_t listener_thread;
static bool listener_running;
static int	listener_pipe[2] = {-1, -1};
static atomic_bool listener_stopping;
static atomic_bool listener_connected;
static atomic_uint_fast64_t listener_reconnects;

/* Sleeps ms, or less when stopping; false when stopping. */
static bool
listener_sleep(int ms)
{
	struct pollfd pfd = {listener_pipe[0], POLLIN, 0};

	if (!atomic_load(&listener_stopping))
		(void) poll(&pfd, 1, ms);
	return !atomic_load(&listener_stopping);
}

/* Runs one statement and returns the first value of its first row (malloc'd). */
static char *
listener_value(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult   *res = pgconn_query(conn, sql, 0, NULL,
								   timeutil_mono_ms() + listener_timeout_ms,
								   err, errlen);
	char	   *value = NULL;

	if (res == NULL)
		return NULL;
	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		value = strdup(PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ?
					   PQgetvalue(res, 0, 0) : "");
		if (value == NULL)
			snprintf(err, errlen, "out of memory");
	}
	else
		snprintf(err, errlen, "%.*s", (int) strcspn(PQresultErrorMessage(res), "\n"),
				 PQresultErrorMessage(res));
	PQclear(res);
	return value;
}

/* Reads warden.edge_state() and hands it over. */
static bool
listener_load(PGconn *conn, char *err, size_t errlen)
{
	char	   *text = listener_value(conn, "SELECT warden.edge_state()::text", err, errlen);
	json_t	   *state;
	json_error_t jerr;
	bool		ok;

	if (text == NULL)
		return false;
	state = json_loads(text, 0, &jerr);
	if (state == NULL)
	{
		free(text);
		snprintf(err, errlen, "edge state is not JSON");
		return false;
	}
	ok = verifier_load(state, err, errlen);
	if (ok)
	{
		decisions_policy((uint64_t) json_integer_value(json_object_get(state, "policy_version")),
						 true);
		identity_api_keys_changed((uint64_t) json_integer_value(json_object_get(state, "api_key_version")),
								  true);
		snapshot_publish(text, state);
	}
	free(text);
	json_decref(state);
	return ok;
}

/* Applies one notification; true when the state must be read again. */
static bool
listener_apply(const PGnotify *n)
{
	json_t	   *msg;
	bool		reload = false;

	if (strcmp(n->relname, "warden_policy") == 0)
	{
		decisions_policy(strtoull(n->extra, NULL, 10), false);
		snapshot_version("policy", strtoull(n->extra, NULL, 10));
		return false;
	}
	msg = json_loads(n->extra, 0, NULL);
	if (msg == NULL)
		return true;			/* not ours to guess at: start over */
	if (json_is_string(json_object_get(msg, "jti")))
	{
		verifier_revoke(json_string_value(json_object_get(msg, "jti")),
						json_integer_value(json_object_get(msg, "exp")));
		snapshot_revoked(json_string_value(json_object_get(msg, "jti")),
						 json_integer_value(json_object_get(msg, "exp")));
	}
	else if (json_is_string(json_object_get(msg, "principal")))
	{
		const json_t *va = json_object_get(msg, "valid_after");

		verifier_principal(json_string_value(json_object_get(msg, "principal")),
						   json_is_true(json_object_get(msg, "enabled")),
						   json_is_integer(va) ? json_integer_value(va) : INT64_MIN);
		snapshot_principal(json_string_value(json_object_get(msg, "principal")), n->extra);
	}
	else if (json_object_get(msg, "api_keys") != NULL)
	{
		identity_api_keys_changed((uint64_t) json_integer_value(json_object_get(msg, "api_keys")),
								  false);
		snapshot_version("api_keys", (uint64_t) json_integer_value(json_object_get(msg, "api_keys")));
	}
	else
		reload = true;			/* keys, reload, or something newer */
	json_decref(msg);
	return reload;
}

/* Drains the notifications libpq has read. */
static bool
listener_drain(PGconn *conn)
{
	PGnotify   *n;
	bool		reload = false;

	while ((n = PQnotifies(conn)) != NULL)
	{
		reload |= listener_apply(n);
		PQfreemem(n);
	}
	return reload;
}

/* One connection's life: false when it broke (the error is in err). */
static bool
listener_session(PGconn *conn, char *err, size_t errlen)
{
	int64_t		next_check = timeutil_mono_ms() + LISTENER_CHECK_MS;
	char	   *v;

	if ((v = listener_value(conn, "LISTEN warden_tokens", err, errlen)) == NULL)
		return false;
	free(v);
	if ((v = listener_value(conn, "LISTEN warden_policy", err, errlen)) == NULL)
		return false;
	free(v);
	if (!listener_load(conn, err, errlen))
		return false;
	atomic_store(&listener_connected, true);
	log_write(LOG_LEVEL_INFO, "policy stream connected", "{s:I}", "policy_version",
			  (json_int_t) decisions_policy_version());

	while (!atomic_load(&listener_stopping))
	{
		struct pollfd pfd[2] = {{PQsocket(conn), POLLIN, 0}, {listener_pipe[0], POLLIN, 0}};
		int64_t		wait = next_check - timeutil_mono_ms();
		bool		reload;

		if (poll(pfd, 2, wait > 0 ? (int) wait : 0) < 0 && errno != EINTR)
		{
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return false;
		}
		if ((pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0 && !PQconsumeInput(conn))
		{
			snprintf(err, errlen, "%.*s", (int) strcspn(PQerrorMessage(conn), "\n"),
					 PQerrorMessage(conn));
			return false;
		}
		reload = listener_drain(conn);
		/* a failed load (out of memory) leaves the verifier not ready: retry */
		if ((reload || !verifier_ready()) && !listener_load(conn, err, errlen))
			return false;
		if (timeutil_mono_ms() >= next_check)
		{
			v = listener_value(conn, "SELECT warden.policy_version()", err, errlen);
			if (v == NULL)
				return false;
			decisions_policy(strtoull(v, NULL, 10), false);
			free(v);
			if (listener_drain(conn) && !listener_load(conn, err, errlen))
				return false;
			next_check = timeutil_mono_ms() + LISTENER_CHECK_MS;
		}
	}
	return true;
}

static void *
listener_main(void *arg)
{
	int			backoff = LISTENER_BACKOFF_MIN_MS;
	char		err[256];
	bool		reported = false;

	(void) arg;
	while (!atomic_load(&listener_stopping))
	{
		PGconn	   *conn = pgconn_connect(listener_conninfo,
										  timeutil_mono_ms() + listener_timeout_ms,
										  err, sizeof(err));

		/*
		 * No database and nothing held (the edge has just started): the
		 * state other edges left in Redis serves until the database is back.
		 */
		if (conn == NULL && !verifier_ready())
			(void) snapshot_load(listener_timeout_ms);
		if (conn != NULL)
		{
			if (listener_session(conn, err, sizeof(err)))
			{
				PQfinish(conn);
				break;			/* stopping */
			}
			PQfinish(conn);
			if (atomic_exchange(&listener_connected, false))
			{
				atomic_fetch_add(&listener_reconnects, 1);
				backoff = LISTENER_BACKOFF_MIN_MS;
				reported = false;
			}
		}
		/* once per outage, not once per attempt */
		if (!reported)
			log_write(LOG_LEVEL_WARN, "policy stream lost, keeping the state held",
					  "{s:s}", "error", err);
		reported = true;
		if (!listener_sleep(backoff))
			break;
		backoff = backoff * 2 > LISTENER_BACKOFF_MAX_MS ? LISTENER_BACKOFF_MAX_MS : backoff * 2;
	}
	atomic_store(&listener_connected, false);
	return NULL;
}

bool
listener_start(const char *conninfo, int timeout_ms, char *err, size_t errlen)
{
	int			rc;

	listener_conninfo = conninfo;
	listener_timeout_ms = timeout_ms;
	if (pipe2(listener_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
	{
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return false;
	}
	rc = pthread_create(&listener_thread, NULL, listener_main, NULL);
	if (rc != 0)
	{
		snprintf(err, errlen, "listener thread: %s", strerror(rc));
		close(listener_pipe[0]);
		close(listener_pipe[1]);
		return false;
	}
	listener_running = true;
	return true;
}

void
listener_stop(void)
{
	if (!listener_running)
		return;
	atomic_store(&listener_stopping, true);
	if (write(listener_pipe[1], "x", 1) < 0 && errno != EAGAIN)
		log_write(LOG_LEVEL_WARN, "could not wake the policy stream", "{s:s}",
				  "error", strerror(errno));
	pthread_join(listener_thread, NULL);
	close(listener_pipe[0]);
	close(listener_pipe[1]);
	listener_running = false;
}

bool
listener_connected_now(void)
{
	return atomic_load(&listener_connected);
}

unsigned long
listener_reconnects_total(void)
{
	return (unsigned long) atomic_load(&listener_reconnects);
}
