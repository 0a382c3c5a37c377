/*
 * dbpool.h
 *		A bounded pool of PostgreSQL connections, driven by event loops that
 *		never wait on the database: the HTTP workers' own loops, each
 *		driving its shard of the primary's pool and of each replica's.
 *
 * A handler that needs the database suspends its request (http_suspend),
 * fills a DbJob (the statements of one transaction) and submits it. The
 * loop driving the shard it lands in sends them on a connection and calls
 * job->done with the connection once their results are read, or with NULL
 * when they could not run before the job's deadline (the database down,
 * the pool busy, the connection broken): the handler then answers 503.
 * job->done must end by resuming the request; after that the job belongs
 * to the request again and the pool never touches it.
 *
 * Threads: dbpool_submit is called from any thread; done is called on the
 * thread of the loop that drives the job's shard: the submitter's own when
 * an HTTP worker submits to the primary.
 */
#ifndef EDGE_DBPOOL_H
#define EDGE_DBPOOL_H

#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgconn.h"

typedef struct DbJob DbJob;
typedef struct DbPool DbPool;
typedef struct DbShard DbShard;

/*
 * conn is the connection that ran the job, its results in
 * job->pipe.results (for done to PQclear); NULL when the job could not run
 * (no connection came up, it waited past its deadline, the connection
 * broke): err then says why (for the log, never for the client). Returns
 * false when the connection must be dropped.
 */
typedef bool (*DbJobDone) (DbJob *job, PGconn *conn, const char *err);

struct DbJob
{
	PgPipelineJob pipe;			/* stmts, n and results (n NULLs) set by the
								 * submitter, the rest zeroed */
	DbJobDone	done;
	int64_t		deadline_ms;	/* timeutil_mono_ms() */
	bool		alone;			/* the pool's: never chained (it was skipped once) */
	bool		handed;			/* the pool's: moved once to another shard */
	DbJob	   *next;			/* the pool's queues */
};

/*
 * Starts a pool of size connections in shards (at most one per
 * connection), each driven by the loop that attaches it (dbpool_attach);
 * connections open lazily, when jobs wait and none of the shard's is free,
 * and again after one breaks. statement_timeout_ms bounds every statement
 * (the server cancels it), so a connection is never held longer by a query
 * that hangs. name labels the pool's log lines. NULL with a reason in err.
 */
extern DbPool *dbpool_start(const char *name, const char *conninfo, int size,
							int queue_max, int statement_timeout_ms,
							int shards, char *err, size_t errlen);

/*
 * A loop of the caller's drives shard index of a pool: on the loop's
 * thread, attach once (NULL: no such shard, nothing to drive), then around
 * every wait: dbpool_shard_prepare sends what was submitted, fills at most
 * dbpool_shard_fds() pollfds and lowers *timeout_ms (-1: none) to the
 * shard's earliest deadline; dbpool_shard_dispatch takes their revents,
 * reads results and calls the jobs' done. Detach when the loop ends.
 */
extern DbShard *dbpool_attach(DbPool *pool, int index);
extern int	dbpool_shard_fds(const DbShard *shard);
extern int	dbpool_shard_prepare(DbShard *shard, struct pollfd *pfds, int *timeout_ms);
extern void dbpool_shard_dispatch(DbShard *shard, const struct pollfd *pfds, int n);
extern void dbpool_detach(DbShard *shard);

/* False when the queue is full, or the pool stopped: answer 503 at once. */
extern bool dbpool_submit(DbPool *pool, DbJob *job);

/* Jobs waiting, and jobs running on a connection, for /metrics and tests. */
extern int	dbpool_waiting(DbPool *pool);
extern int	dbpool_busy(DbPool *pool);

/* Jobs sent in one round trip with others (a busy pool), since the start. */
extern unsigned long dbpool_batched_total(DbPool *pool);

extern const char *dbpool_name(const DbPool *pool);

/*
 * Ends every job still queued with conn NULL ("shutting down"), waits for
 * the running ones (on the loops that drive them, which must still run,
 * or here for a shard none drives) and closes the connections. The pool
 * then refuses jobs (a request resumed by the stop may try another step)
 * until dbpool_free, once no request is left. NULL is ignored by both.
 */
extern void dbpool_stop(DbPool *pool);
extern void dbpool_free(DbPool *pool);

#endif							/* EDGE_DBPOOL_H */
