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
 * A PGconn must be used by one thread at a time. The only state here is
 * each thread's list of the statements prepared on its connection (see
 * pgconn_pipeline), which starts over when the connection changes.
 */
#include "pgconn.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "timeutil.h"

/*
 * Statements a pool thread's connection has prepared, by their text and
 * parameter types. A new connection (another PGconn, or another backend)
 * starts with none. Beyond PGCONN_PREPARED_MAX statements run unprepared.
 */
#define PGCONN_PREPARED_MAX 256

typedef struct PgPrepared
{
	uint64_t	hash;
	char	   *key;			/* the SQL text, then the types' bytes */
	size_t		keylen;
} PgPrepared;

static __thread struct
{
	const PGconn *conn;
	int			pid;
	int			n;
	PgPrepared	stmts[PGCONN_PREPARED_MAX];
}			pgconn_prepared;

/* statements prepared by the pipeline being sent, not yet known to work */
static __thread int pgconn_preparing;
static __thread uint64_t pgconn_preparing_hashes[PGCONN_PREPARED_MAX];

/* A fixed key: the hash only spreads names; the texts are compared. */
static const unsigned char pgconn_hash_key[SIPHASH_KEY_LEN] = "warden prepared";

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
/*
 * The statement's key (its text and parameter types) in key, and whether
 * this connection has prepared it; its name goes to name either way.
 */
static bool
pgconn_is_prepared(const PGconn *conn, const PgStatement *s, char *key,
				   size_t *keylen, uint64_t *hash, char name[32])
{
	size_t		len = strlen(s->sql);
	size_t		tlen = s->types != NULL ? (size_t) s->nparams * sizeof(Oid) : 0;

	if (pgconn_prepared.conn != conn || pgconn_prepared.pid != PQbackendPID(conn))
	{
		for (int i = 0; i < pgconn_prepared.n; i++)
			free(pgconn_prepared.stmts[i].key);
		pgconn_prepared.n = 0;
		pgconn_prepared.conn = conn;
		pgconn_prepared.pid = PQbackendPID(conn);
	}
	memcpy(key, s->sql, len);
	if (tlen > 0)
		memcpy(key + len, s->types, tlen);
	*keylen = len + tlen;
	*hash = siphash24(pgconn_hash_key, key, *keylen);
	snprintf(name, 32, "warden_%016llx", (unsigned long long) *hash);
	for (int i = 0; i < pgconn_prepared.n; i++)
		if (pgconn_prepared.stmts[i].hash == *hash &&
			pgconn_prepared.stmts[i].keylen == *keylen &&
			memcmp(pgconn_prepared.stmts[i].key, key, *keylen) == 0)
			return true;
	return false;
}

/* Sends one transaction's statements and its Sync; false: see err. */
static bool
pgconn_send_job(PGconn *conn, PgPipelineJob *j, char *err, size_t errlen)
{
	int			i;

	for (i = 0; i < j->n; i++)
	{
		const PgStatement *st = &j->stmts[i];
		size_t		max = strlen(st->sql) + (size_t) st->nparams * sizeof(Oid);
		char		name[32];
		bool		known;
		int			ok;

		j->keys[i] = malloc(max + 1);
		if (j->keys[i] == NULL)
		{
			snprintf(err, errlen, "pipeline: out of memory");
			return false;
		}
		known = pgconn_is_prepared(conn, st, j->keys[i], &j->keylens[i], &j->hashes[i], name);
		j->how[i] = known ? 0 : pgconn_prepared.n + pgconn_preparing < PGCONN_PREPARED_MAX ? 1 : -1;
		/* the same text again before it is known: prepared by the first */
		for (int k = 0; k < pgconn_preparing && j->how[i] == 1; k++)
			if (pgconn_preparing_hashes[k] == j->hashes[i])
				j->how[i] = 0;
		if (j->how[i] == 1)
		{
			if (!PQsendPrepare(conn, name, st->sql, st->nparams, st->types))
			{
				pgconn_error(conn, "send query", err, errlen);
				return false;
			}
			pgconn_preparing_hashes[pgconn_preparing++] = j->hashes[i];
		}
		ok = j->how[i] >= 0 ?
			PQsendQueryPrepared(conn, name, st->nparams, st->values, NULL, NULL, 0) :
			PQsendQueryParams(conn, st->sql, st->nparams, st->types, st->values,
							  NULL, NULL, 0);
		if (!ok)
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
	return true;
}

/* Reads one transaction's results and its Sync; false: see err. */
static bool
pgconn_read_job(PGconn *conn, PgPipelineJob *j, int64_t deadline_ms,
				char *err, size_t errlen)
{
	PGresult   *sync;
	int			i;

	for (i = 0; i < j->n; i++)
	{
		if (j->how[i] == 1)
		{
			PGresult   *prep = pgconn_results(conn, deadline_ms, err, errlen);

			if (prep == NULL)
				return false;
			if (PQresultStatus(prep) == PGRES_COMMAND_OK)
			{
				PgPrepared *p = &pgconn_prepared.stmts[pgconn_prepared.n++];

				p->hash = j->hashes[i];
				p->key = j->keys[i];
				p->keylen = j->keylens[i];
				j->keys[i] = NULL;
				PQclear(prep);
			}
			else
			{
				/* the statement's own error: its execution is skipped */
				j->results[i] = prep;
				PQclear(pgconn_results(conn, deadline_ms, err, errlen));
				continue;
			}
		}
		j->results[i] = pgconn_results(conn, deadline_ms, err, errlen);
		if (j->results[i] == NULL)
			return false;
	}
	/* the Sync's own result closes the transaction; no NULL follows it */
	if (!pgconn_await(conn, deadline_ms, err, errlen))
		return false;
	sync = PQgetResult(conn);
	if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
	{
		PQclear(sync);
		snprintf(err, errlen, "pipeline: no sync");
		return false;
	}
	PQclear(sync);
	return true;
}

/*
 * Statements are prepared on first use and then only bound and executed:
 * parsing and planning the same few texts for every request (the edge's
 * own statements, each RPC function's call) would cost the server more
 * than running them. A statement whose name exists with another text
 * (a hash collision) runs unprepared.
 *
 * Several transactions (jobs) go in one pipeline, each closed by its own
 * Sync, so one round trip serves them all while a failure in one aborts
 * only its own statements.
 */
bool
pgconn_pipeline_many(PGconn *conn, PgPipelineJob *jobs, int njobs,
					 int64_t deadline_ms, char *err, size_t errlen)
{
	bool		ok = false;
	int			i;
	int			k;

	pgconn_preparing = 0;
	for (k = 0; k < njobs; k++)
	{
		if (jobs[k].n > PGCONN_PIPELINE_MAX)
		{
			snprintf(err, errlen, "pipeline: too many statements");
			return false;
		}
		for (i = 0; i < jobs[k].n; i++)
		{
			jobs[k].results[i] = NULL;
			jobs[k].keys[i] = NULL;
		}
	}
	if (!PQenterPipelineMode(conn))
	{
		pgconn_error(conn, "pipeline", err, errlen);
		return false;
	}
	for (k = 0; k < njobs; k++)
		if (!pgconn_send_job(conn, &jobs[k], err, errlen))
			goto done;
	if (!pgconn_flush(conn, deadline_ms, err, errlen))
		goto done;
	for (k = 0; k < njobs; k++)
		if (!pgconn_read_job(conn, &jobs[k], deadline_ms, err, errlen))
			goto done;
	if (!PQexitPipelineMode(conn))
	{
		pgconn_error(conn, "pipeline", err, errlen);
		goto done;
	}
	ok = true;

done:
	for (k = 0; k < njobs; k++)
		for (i = 0; i < jobs[k].n; i++)
		{
			free(jobs[k].keys[i]);
			jobs[k].keys[i] = NULL;
			if (!ok)
			{
				PQclear(jobs[k].results[i]);
				jobs[k].results[i] = NULL;
			}
		}
	return ok;
}

bool
pgconn_pipeline(PGconn *conn, const PgStatement *stmts, int n,
				int64_t deadline_ms, PGresult **results, char *err,
				size_t errlen)
{
	PgPipelineJob j = {.stmts = stmts, .n = n, .results = results};

	return pgconn_pipeline_many(conn, &j, 1, deadline_ms, err, errlen);
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
