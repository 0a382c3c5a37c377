/*
 * pgconn.c
 *		libpq connections that never wait past a deadline.
 *
 * PQconnectdb() and PQexec() can block for as long as the kernel lets a TCP
 * connection hang, which is minutes; a server that is stopped (SIGSTOP), or
 * behind a dropped route, would stall the caller that long. Here every wait
 * is a poll(2) on the connection's socket bounded by the caller's deadline,
 * with libpq driven in nonblocking mode (PQconnectStart/PQconnectPoll,
 * PQsendQuery/PQconsumeInput). Several statements can go in one round trip
 * (pgconn_pipeline), as one implicit transaction.
 *
 * One caveat libpq documents: PQconnectStart resolves host names with a
 * blocking getaddrinfo(); use a numeric host (or hostaddr) where DNS may
 * hang.
 *
 * No state of its own; a PGconn must be used by one thread at a time.
 */
#include "pgconn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

/* Waits for events on fd until the deadline: 1 ready, 0 timeout, -1 error. */
static int
pgconn_wait(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd;
	int64_t		left;
	int			rc;

	for (;;)
	{
		left = deadline_ms - timeutil_mono_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int) left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* libpq's last error, first line only: the rest is hints for humans. */
static void
pgconn_error(const PGconn *conn, const char *what, char *err, size_t errlen)
{
	const char *msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	size_t		n = strcspn(msg, "\n");

	if (n == 0)
		snprintf(err, errlen, "%s failed", what);
	else
		snprintf(err, errlen, "%s: %.*s", what, (int) n, msg);
}

/* Quiet the default notice processor, which would write to stderr. */
static void
pgconn_ignore_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* Checks the syntax only, and never reports the text (it may hold a password). */
bool
pgconn_conninfo_valid(const char *conninfo)
{
	PQconninfoOption *opts;
	char	   *errmsg = NULL;

	opts = PQconninfoParse(conninfo, &errmsg);
	PQfreemem(errmsg);
	if (opts == NULL)
		return false;
	PQconninfoFree(opts);
	return true;
}

/* Connects within the deadline; NULL with a reason in err otherwise. */
PGconn *
pgconn_connect(const char *conninfo, int64_t deadline_ms, char *err,
			   size_t errlen)
{
	PostgresPollingStatusType state = PGRES_POLLING_WRITING;
	PGconn	   *conn;
	int			rc;

	conn = PQconnectStart(conninfo);
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
	{
		pgconn_error(conn, "connect", err, errlen);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, pgconn_ignore_notice, NULL);
	/* the socket may change between calls (several hosts, SSL retry) */
	while (state != PGRES_POLLING_OK)
	{
		if (state == PGRES_POLLING_FAILED)
		{
			pgconn_error(conn, "connect", err, errlen);
			PQfinish(conn);
			return NULL;
		}
		rc = pgconn_wait(PQsocket(conn),
						 state == PGRES_POLLING_READING ? POLLIN : POLLOUT,
						 deadline_ms);
		if (rc <= 0)
		{
			snprintf(err, errlen, "connect: %s",
					 rc == 0 ? "timed out" : strerror(errno));
			PQfinish(conn);
			return NULL;
		}
		state = PQconnectPoll(conn);
	}
	if (PQsetnonblocking(conn, 1) != 0)
	{
		pgconn_error(conn, "set nonblocking", err, errlen);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Sends what libpq holds in its output buffer, within the deadline. */
static bool
pgconn_flush(PGconn *conn, int64_t deadline_ms, char *err, size_t errlen)
{
	int			rc;

	/* nonblocking: queries may sit in libpq's buffer until flushed */
	while ((rc = PQflush(conn)) == 1)
	{
		if (pgconn_wait(PQsocket(conn), POLLOUT | POLLIN, deadline_ms) <= 0)
		{
			snprintf(err, errlen, "query: timed out");
			return false;
		}
		if (!PQconsumeInput(conn))
		{
			pgconn_error(conn, "query", err, errlen);
			return false;
		}
	}
	if (rc < 0)
	{
		pgconn_error(conn, "query", err, errlen);
		return false;
	}
	return true;
}

/* Reads until PQgetResult() would not block, within the deadline. */
static bool
pgconn_await(PGconn *conn, int64_t deadline_ms, char *err, size_t errlen)
{
	int			rc;

	while (PQisBusy(conn))
	{
		rc = pgconn_wait(PQsocket(conn), POLLIN, deadline_ms);
		if (rc <= 0)
		{
			snprintf(err, errlen, "query: %s",
					 rc == 0 ? "timed out" : strerror(errno));
			return false;
		}
		if (!PQconsumeInput(conn))
		{
			pgconn_error(conn, "query", err, errlen);
			return false;
		}
	}
	return true;
}

/*
 * The results of one statement, up to the NULL that ends them: the first
 * is returned (whatever its status), the rest dropped. NULL when the
 * connection failed, the deadline passed, or there was none.
 */
static PGresult *
pgconn_results(PGconn *conn, int64_t deadline_ms, char *err, size_t errlen)
{
	PGresult   *res;
	PGresult   *first = NULL;

	for (;;)
	{
		if (!pgconn_await(conn, deadline_ms, err, errlen))
		{
			PQclear(first);
			return NULL;
		}
		res = PQgetResult(conn);
		if (res == NULL)
			break;
		if (first == NULL)
			first = res;
		else
			PQclear(res);
		/* results that never end must not hold the thread either */
		if (timeutil_mono_ms() >= deadline_ms)
		{
			snprintf(err, errlen, "query: timed out");
			PQclear(first);
			return NULL;
		}
	}
	if (first == NULL)
		snprintf(err, errlen, "query: no result");
	return first;
}

/*
 * Runs sql with text parameters (bound, never spliced) within the deadline
 * and returns its first result, whatever its status: the caller reads a
 * failed statement's SQLSTATE from it. NULL when the connection failed or
 * the deadline passed; the connection may then be in any state, and the
 * caller drops it (PQfinish) and connects afresh.
 */
PGresult *
pgconn_query(PGconn *conn, const char *sql, int nparams,
			 const char *const *params, int64_t deadline_ms,
			 char *err, size_t errlen)
{
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
	{
		pgconn_error(conn, "send query", err, errlen);
		return NULL;
	}
	if (!pgconn_flush(conn, deadline_ms, err, errlen))
		return NULL;
	return pgconn_results(conn, deadline_ms, err, errlen);
}

/*
 * Runs n statements in one round trip (libpq pipeline mode, PostgreSQL 14
 * and later): all are sent, then one Sync, so the server runs them as one
 * implicit transaction. A statement that fails aborts the transaction and
 * the server skips the rest: their results are PGRES_PIPELINE_ABORTED.
 * results[i] is the first result of statement i, whatever its status,
 * for the caller to PQclear. False when the connection failed or the
 * deadline passed (every results[i] then NULL): drop the connection, as
 * after pgconn_query.
 */
bool
pgconn_pipeline(PGconn *conn, const PgStatement *stmts, int n,
				int64_t deadline_ms, PGresult **results, char *err,
				size_t errlen)
{
	PGresult   *sync;
	int			i;

	for (i = 0; i < n; i++)
		results[i] = NULL;
	if (!PQenterPipelineMode(conn))
	{
		pgconn_error(conn, "pipeline", err, errlen);
		return false;
	}
	for (i = 0; i < n; i++)
	{
		if (!PQsendQueryParams(conn, stmts[i].sql, stmts[i].nparams,
							   stmts[i].types, stmts[i].values, NULL, NULL, 0))
		{
			pgconn_error(conn, "send query", err, errlen);
			return false;
		}
	}
	if (!PQpipelineSync(conn))
	{
		pgconn_error(conn, "pipeline", err, errlen);
		return false;
	}
	if (!pgconn_flush(conn, deadline_ms, err, errlen))
		return false;
	for (i = 0; i < n; i++)
	{
		results[i] = pgconn_results(conn, deadline_ms, err, errlen);
		if (results[i] == NULL)
			goto fail;
	}
	/* the Sync's own result closes the pipeline; no NULL follows it */
	if (!pgconn_await(conn, deadline_ms, err, errlen))
		goto fail;
	sync = PQgetResult(conn);
	if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
	{
		PQclear(sync);
		snprintf(err, errlen, "pipeline: no sync");
		goto fail;
	}
	PQclear(sync);
	if (!PQexitPipelineMode(conn))
	{
		pgconn_error(conn, "pipeline", err, errlen);
		goto fail;
	}
	return true;

fail:
	for (i = 0; i < n; i++)
	{
		PQclear(results[i]);
		results[i] = NULL;
	}
	return false;
}

/* Runs SELECT 1 within the deadline; see pgconn_query for a false. */
bool
pgconn_select1(PGconn *conn, int64_t deadline_ms, char *err, size_t errlen)
{
	PGresult   *res = pgconn_query(conn, "SELECT 1", 0, NULL, deadline_ms,
								   err, errlen);
	bool		ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;

	if (res != NULL && !ok)
		snprintf(err, errlen, "query: %.*s",
				 (int) strcspn(PQresultErrorMessage(res), "\n"),
				 PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}
