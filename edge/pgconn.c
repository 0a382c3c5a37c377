/*
 * pgconn.c
 *		libpq connections that never wait past a deadline.
 *
 * PQconnectdb() and PQexec() can block for as long as the kernel lets a TCP
 * connection hang, which is minutes; a server that is stopped (SIGSTOP), or
 * behind a dropped route, would stall the caller that long. Here every wait
 * is a poll(2) on the connection's socket bounded by the caller's deadline,
 * with libpq driven in nonblocking mode (PQconnectStart/PQconnectPoll,
 * PQsendQuery/PQconsumeInput).
 *
 * The pool's connections are pipes instead (pgconn_pipe_*): a connection
 * stays in libpq's pipeline mode, transactions (each closed by its own
 * Sync, or chained in runs that share one) are sent without waiting for
 * the ones before, and their results are read as they arrive, never
 * waiting: the caller polls the socket and bounds the wait (dbpool.c).
 *
 * One caveat libpq documents: PQconnectStart resolves host names with a
 * blocking getaddrinfo(), which no deadline bounds; an event loop that
 * must not wait connects to a named server through pgstart.c instead.
 *
 * A PGconn must be used by one thread at a time. A pipe keeps the
 * statements prepared on its connection (see pgconn_pipe_send), and loses
 * them with it.
 */
#include "pgconn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "siphash.h"
#include "textfmt.h"
#include "timeutil.h"

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

/*
 * Starts connecting without waiting; the caller drives PQconnectPoll(),
 * then calls pgconn_connect_ready(). NULL with a reason in err.
 */
PGconn *
pgconn_connect_start(const char *conninfo, char *err, size_t errlen)
{
	PGconn	   *conn = PQconnectStart(conninfo);

	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
	{
		pgconn_error(conn, "connect", err, errlen);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, pgconn_ignore_notice, NULL);
	return conn;
}

/* A connection just made goes nonblocking; false: see err. */
bool
pgconn_connect_ready(PGconn *conn, char *err, size_t errlen)
{
	if (PQsetnonblocking(conn, 1) != 0)
	{
		pgconn_error(conn, "set nonblocking", err, errlen);
		return false;
	}
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

	conn = pgconn_connect_start(conninfo, err, errlen);
	if (conn == NULL)
		return NULL;
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
	if (!pgconn_connect_ready(conn, err, errlen))
	{
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
 * Puts a connection just made into pipeline mode (PostgreSQL 14 and later),
 * where it stays: transactions then go without waiting for the ones
 * before. False: see err; the caller still owns conn.
 */
bool
pgconn_pipe_open(PgPipe *p, PGconn *conn, char *err, size_t errlen)
{
	if (!PQenterPipelineMode(conn))
	{
		pgconn_error(conn, "pipeline", err, errlen);
		return false;
	}
	p->conn = conn;
	p->corkable = true;
	p->pending = 0;
	p->nprepared = 0;
	p->npreparing = 0;
	return true;
}

/*
 * Holds back (on) or lets go (off) the connection's small writes, so that
 * many transactions queued at once leave in as few TCP segments as they
 * fill. libpq (15) flushes at every PQpipelineSync, so a batch of n
 * transactions is n send() calls; corked, the server is woken once for
 * the batch rather than once per transaction, which is most of what a
 * batch costs it and us. Best effort: a socket that is not TCP (a Unix
 * socket) refuses and is not asked again.
 */
void
pgconn_pipe_cork(PgPipe *p, bool on)
{
	int			v = on ? 1 : 0;

	if (p->conn == NULL || !p->corkable || PQsocket(p->conn) < 0)
		return;
	if (setsockopt(PQsocket(p->conn), IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) != 0)
		p->corkable = false;
}

/* Closes the connection, and forgets what it had prepared. */
void
pgconn_pipe_close(PgPipe *p)
{
	for (int i = 0; i < p->nprepared; i++)
		free(p->prepared[i].key);
	p->nprepared = 0;
	p->npreparing = 0;
	p->pending = 0;
	PQfinish(p->conn);
	p->conn = NULL;
}

/*
 * The statement's key (its text and parameter types) in key, and whether
 * this connection has prepared it; its name goes to name either way.
 */
static bool
pgconn_is_prepared(const PgPipe *p, const PgStatement *s, char *key,
				   size_t *keylen, uint64_t *hash, char name[32])
{
	size_t		len = strlen(s->sql);
	size_t		tlen = s->types != NULL ? (size_t) s->nparams * sizeof(Oid) : 0;

	memcpy(key, s->sql, len);
	if (tlen > 0)
		memcpy(key + len, s->types, tlen);
	*keylen = len + tlen;
	*hash = siphash24(pgconn_hash_key, key, *keylen);
	memcpy(name, "warden_", 7);
	textfmt_hex64(name + 7, *hash);
	for (int i = 0; i < p->nprepared; i++)
		if (p->prepared[i].hash == *hash &&
			p->prepared[i].keylen == *keylen &&
			memcmp(p->prepared[i].key, key, *keylen) == 0)
			return true;
	return false;
}

/*
 * The statement's Prepare succeeded: the pipe knows it from now on. The key
 * is made again here rather than kept from the send, which keeps a job
 * small (most statements are known and need none). False: out of memory.
 */
static bool
pgconn_remember(PgPipe *p, const PgStatement *s)
{
	char	   *key = malloc(strlen(s->sql) + (size_t) s->nparams * sizeof(Oid) + 1);
	PgPrepared *pr = &p->prepared[p->nprepared];	/* room kept by pgconn_pipe_send */
	char		name[32];

	if (key == NULL)
		return false;
	(void) pgconn_is_prepared(p, s, key, &pr->keylen, &pr->hash, name);
	pr->key = key;
	p->nprepared++;
	return true;
}

/* The queries that may frame a job's statements (see PgPipelineJob). */
#define PGCONN_Q_ROLLBACK (-1)
#define PGCONN_Q_BEGIN (-2)
#define PGCONN_Q_COMMIT (-3)

static const PgStatement pgconn_framing[] = {
	{"ROLLBACK", 0, NULL, NULL},
	{"BEGIN", 0, NULL, NULL},
	{"COMMIT", 0, NULL, NULL},
};

/*
 * Whether the job goes between BEGIN and COMMIT: a chained job that does
 * not end its run. The last one needs neither: what follows the previous
 * job's COMMIT up to the Sync is a transaction of its own, committed by
 * the Sync as a job sent alone is, and the two statements saved are about
 * a quarter of what the server spends on a chained call.
 */
static bool
pgconn_job_framed(const PgPipelineJob *j)
{
	return j->chain && !j->last;
}

/* The job's query q: a statement's index, or a PGCONN_Q_* framing query. */
static int
pgconn_job_query(const PgPipelineJob *j, int q)
{
	if (j->rollback)
	{
		if (q == 0)
			return PGCONN_Q_ROLLBACK;
		q--;
	}
	if (!pgconn_job_framed(j))
		return q;
	if (q == 0)
		return PGCONN_Q_BEGIN;
	return q == j->n + 1 ? PGCONN_Q_COMMIT : q - 1;
}

static const PgStatement *
pgconn_job_stmt(const PgPipelineJob *j, int k)
{
	return k >= 0 ? &j->stmts[k] : &pgconn_framing[-k - 1];
}

/* Whether a Sync follows the job's query q. */
static bool
pgconn_sync_after(const PgPipelineJob *j, int q)
{
	if (q == j->nq - 1)
		return !j->chain || j->last;
	return j->split > 0 && j->split < j->n && pgconn_job_query(j, q) == j->split - 1;
}

/*
 * Queues one transaction's statements and its Sync in libpq's buffer (see
 * pgconn_pipe_flush); false: see err, and the connection must go.
 *
 * Statements are prepared on first use and then only bound and executed:
 * parsing and planning the same few texts for every request (the edge's
 * own statements, each RPC function's call) would cost the server more
 * than running them. A statement whose name exists with another text
 * (a hash collision) runs unprepared. A job not chained has its own Sync,
 * so that a failure in it aborts only its own statements.
 *
 * The first job sent on a pipe with nothing pending starts with a ROLLBACK
 * when the server's last word was that a transaction block is open: a
 * chained job that failed leaves its block open and aborted past its run's
 * Sync (only COMMIT or ROLLBACK ends an explicit block), and the pool sends
 * chained runs after the jobs that go alone, so that this happens only at
 * the end of what it sends at once.
 */
bool
pgconn_pipe_send(PgPipe *p, PgPipelineJob *j, char *err, size_t errlen)
{
	int			q;

	for (q = 0; q < j->n && q < PGCONN_PIPELINE_MAX; q++)
		j->results[q] = NULL;
	j->next = 0;
	j->first = NULL;
	j->frame = NULL;
	j->preparing = false;
	j->syncing = false;
	j->commit_error = false;
	j->ran = true;
	if (j->n > PGCONN_PIPELINE_MAX || j->n < 1)
	{
		snprintf(err, errlen, "pipeline: %s statements", j->n < 1 ? "no" : "too many");
		return false;
	}
	if (j->split > 0 && j->split < j->n)
		j->chain = false;
	j->rollback = false;
	if (p->pending == 0)
	{
		PGTransactionStatusType ts = PQtransactionStatus(p->conn);

		/* every Prepare sent before has its result read: known, or failed */
		p->npreparing = 0;
		j->rollback = ts == PQTRANS_INERROR || ts == PQTRANS_INTRANS;
	}
	j->nq = j->n + (pgconn_job_framed(j) ? 2 : 0) + (j->rollback ? 1 : 0);
	for (q = 0; q < j->nq; q++)
	{
		const PgStatement *st = pgconn_job_stmt(j, pgconn_job_query(j, q));
		size_t		max = strlen(st->sql) + (size_t) st->nparams * sizeof(Oid);
		char		room[1024];
		char	   *key = max < sizeof(room) ? room : malloc(max + 1);
		size_t		keylen;
		char		name[32];
		bool		known;
		int			ok;

		if (key == NULL)
		{
			snprintf(err, errlen, "pipeline: out of memory");
			return false;
		}
		known = pgconn_is_prepared(p, st, key, &keylen, &j->hashes[q], name);
		if (key != room)
			free(key);
		j->how[q] = known ? 0 : p->nprepared + p->npreparing < PGCONN_PREPARED_MAX ? 1 : -1;
		/* the same text again before it is known: prepared by the first */
		for (int k = 0; k < p->npreparing && j->how[q] == 1; k++)
			if (p->preparing[k] == j->hashes[q])
				j->how[q] = 0;
		if (j->how[q] == 1)
		{
			if (!PQsendPrepare(p->conn, name, st->sql, st->nparams, st->types))
			{
				pgconn_error(p->conn, "send query", err, errlen);
				return false;
			}
			p->preparing[p->npreparing++] = j->hashes[q];
		}
		ok = j->how[q] >= 0 ?
			PQsendQueryPrepared(p->conn, name, st->nparams, st->values, NULL, NULL, 0) :
			PQsendQueryParams(p->conn, st->sql, st->nparams, st->types, st->values,
							  NULL, NULL, 0);
		if (!ok)
		{
			pgconn_error(p->conn, "send query", err, errlen);
			return false;
		}
		if (pgconn_sync_after(j, q) && !PQpipelineSync(p->conn))
		{
			pgconn_error(p->conn, "pipeline", err, errlen);
			return false;
		}
	}
	j->preparing = j->how[0] == 1;
	p->pending++;
	return true;
}

/*
 * Sends what libpq holds without waiting: 0 all sent, 1 some left (poll
 * for POLLOUT, and POLLIN: the server may wait for us to read first),
 * -1 failed (see err).
 */
int
pgconn_pipe_flush(PgPipe *p, char *err, size_t errlen)
{
	int			rc = PQflush(p->conn);

	if (rc < 0)
		pgconn_error(p->conn, "query", err, errlen);
	return rc;
}

/* Reads what the socket has; false when the connection broke. */
bool
pgconn_pipe_consume(PgPipe *p, char *err, size_t errlen)
{
	if (!PQconsumeInput(p->conn))
	{
		pgconn_error(p->conn, "query", err, errlen);
		return false;
	}
	return true;
}

/*
 * A commit failed (a deferred constraint, a serialization failure): the
 * error stands as the result of statement k, the last of its transaction.
 */
static void
pgconn_commit_failed(PgPipelineJob *j, int k, PGresult *res)
{
	if (k < 0 || k >= j->n)
		k = j->n - 1;
	PQclear(j->results[k]);
	j->results[k] = res;
}

/* The result of a framing query, read: what it says of the job. */
static void
pgconn_framed(PgPipelineJob *j, int k)
{
	PGresult   *res = j->frame;

	j->frame = NULL;
	if (k == PGCONN_Q_BEGIN && PQresultStatus(res) != PGRES_COMMAND_OK)
		j->ran = false;			/* skipped: a job before it in its run failed */
	else if (k == PGCONN_Q_COMMIT && PQresultStatus(res) == PGRES_FATAL_ERROR)
	{
		pgconn_commit_failed(j, j->n - 1, res);
		return;
	}
	PQclear(res);
}

/* Every result of the job is read. */
static int
pgconn_read_done(PgPipe *p)
{
	p->pending--;
	return 1;
}

/*
 * Reads as much of j's results as has arrived, j being the oldest
 * transaction of the pipe still unread: 1 all read, its Sync included
 * (j->results[i] is statement i's first result, whatever its status; see
 * pgconn_pipe_ran); 0 more to come (poll for POLLIN, then
 * pgconn_pipe_consume); -1 failed (see err; the connection must go, and
 * pgconn_pipe_forget(j)).
 *
 * Each query's results end with a NULL from PQgetResult; only the first
 * is kept. A Prepare that failed stands for its statement, whose execution
 * the server then skips. A Sync that commits (a job not chained) may bring
 * the commit's error before its own result.
 */
int
pgconn_pipe_read(PgPipe *p, PgPipelineJob *j, char *err, size_t errlen)
{
	PGresult   *res;
	PGresult  **slot;
	int			k;

	for (;;)
	{
		if (PQisBusy(p->conn))
			return 0;
		res = PQgetResult(p->conn);
		if (j->syncing)
		{
			if (res == NULL && j->commit_error)
			{
				/* the NULL after the commit's error */
				j->commit_error = false;
				continue;
			}
			if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR && !j->commit_error)
			{
				pgconn_commit_failed(j, pgconn_job_query(j, j->next - 1), res);
				j->commit_error = true;
				continue;
			}
			/* the Sync's own result closes the transaction; no NULL follows it */
			if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			{
				PQclear(res);
				snprintf(err, errlen, "pipeline: no sync");
				return -1;
			}
			PQclear(res);
			j->syncing = false;
			if (j->next == j->nq)
				return pgconn_read_done(p);
			continue;
		}
		if (res != NULL)
		{
			if (j->first == NULL)
				j->first = res;
			else
				PQclear(res);
			continue;
		}
		/* the NULL that ends one query's results */
		if (j->first == NULL)
		{
			snprintf(err, errlen, "query: no result");
			return -1;
		}
		res = j->first;
		j->first = NULL;
		k = pgconn_job_query(j, j->next);
		slot = k >= 0 ? &j->results[k] : &j->frame;
		if (j->preparing)
		{
			j->preparing = false;
			if (PQresultStatus(res) == PGRES_COMMAND_OK)
			{
				PQclear(res);
				if (!pgconn_remember(p, pgconn_job_stmt(j, k)))
				{
					snprintf(err, errlen, "pipeline: out of memory");
					return -1;
				}
			}
			else
				*slot = res;	/* the query's own error */
			continue;
		}
		if (*slot != NULL)
			PQclear(res);		/* skipped after its Prepare failed */
		else
			*slot = res;
		if (k < 0)
			pgconn_framed(j, k);
		else if (k == 0 && j->chain && PQresultStatus(*slot) == PGRES_PIPELINE_ABORTED)
			j->ran = false;		/* the run's last job, skipped */
		j->next++;
		j->preparing = j->next < j->nq && j->how[j->next] == 1;
		if (pgconn_sync_after(j, j->next - 1))
			j->syncing = true;
		else if (j->next == j->nq)
			return pgconn_read_done(p);
	}
}

/*
 * False for a chained job the server skipped, a job before it in its run
 * having failed: none of its statements ran, and it may be sent again.
 */
bool
pgconn_pipe_ran(const PgPipelineJob *j)
{
	return j->ran;
}

/* Frees what a transaction that will not be read holds, its results too. */
void
pgconn_pipe_forget(PgPipelineJob *j)
{
	for (int i = 0; i < j->n && i < PGCONN_PIPELINE_MAX; i++)
	{
		PQclear(j->results[i]);
		j->results[i] = NULL;
	}
	PQclear(j->first);
	j->first = NULL;
	PQclear(j->frame);
	j->frame = NULL;
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
