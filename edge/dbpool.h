/*
 * dbpool.h
 *		A bounded pool of PostgreSQL connections, each served by a thread of
 *		its own, so that no libmicrohttpd thread ever waits on the database.
 *
 * A handler that needs the database suspends its request (http_suspend),
 * fills a DbJob and submits it. A pool thread runs job->run with a live
 * connection, or with NULL when none could be had before the job's
 * deadline (the database down, the pool busy): the handler then answers
 * 503. job->run must end by resuming the request; after that the job
 * belongs to the request again and the pool never touches it.
 *
 * Threads: dbpool_submit is called from any thread; run is called on a
 * pool thread, with the connection that thread owns.
 */
#ifndef EDGE_DBPOOL_H
#define EDGE_DBPOOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct DbJob DbJob;

/*
 * conn is NULL when no connection came up, or the job waited past its
 * deadline; err then says why (for the log, never for the client). Returns
 * false when the connection must be dropped (a query that failed without a
 * result: timed out or broken).
 */
typedef bool (*DbJobRun) (DbJob *job, PGconn *conn, const char *err);

/*
 * Several jobs on one connection at once (their run functions all equal
 * this one's); false, as for run, when the connection must go.
 */
typedef bool (*DbJobRunMany) (DbJob **jobs, int n, PGconn *conn);

struct DbJob
{
	DbJobRun	run;
	DbJobRunMany run_many;		/* NULL: one at a time */
	int64_t		deadline_ms;	/* timeutil_mono_ms() */
	DbJob	   *next;			/* the pool's queue */
};

/*
 * Starts size threads; connections open lazily, at the first job each
 * thread takes, and again after one breaks. statement_timeout_ms bounds
 * every statement (the server cancels it), so a thread is never held
 * longer by a query that hangs.
 */
extern bool dbpool_start(const char *conninfo, int size, int queue_max,
						 int statement_timeout_ms, char *err, size_t errlen);

/* False when the queue is full: answer 503 at once. */
extern bool dbpool_submit(DbJob *job);

/* Jobs waiting and connections busy, for /metrics and tests. */
extern int	dbpool_waiting(void);
extern int	dbpool_busy(void);

/*
 * Runs every job still queued with conn NULL ("shutting down"), waits for
 * the running ones, closes the connections and joins the threads.
 */
extern void dbpool_stop(void);

#endif							/* EDGE_DBPOOL_H */
