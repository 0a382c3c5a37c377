/*
 * pgconn.h
 *		libpq connections that never wait past a deadline.
 *
 * Deadlines are absolute timeutil_mono_ms() values. A PGconn is used by
 * one thread at a time (libpq's rule). The blocking calls (connect, query)
 * serve the health check and the listener; the pipe calls never wait and
 * serve the pool's event loop (dbpool.c), which polls the socket itself.
 */
#ifndef EDGE_PGCONN_H
#define EDGE_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One statement of a pipeline: text parameters, always bound, never spliced
 * into the SQL; types NULL lets the server infer them.
 */
typedef struct PgStatement
{
	const char *sql;
	int			nparams;
	const Oid  *types;
	const char *const *values;	/* NULL entries are SQL nulls */
} PgStatement;

/* The most statements one transaction of a pipeline carries. */
#define PGCONN_PIPELINE_MAX 16

/* With the ROLLBACK, BEGIN and COMMIT that may frame them. */
#define PGCONN_QUERIES_MAX (PGCONN_PIPELINE_MAX + 3)

/*
 * Statements a connection has prepared, by their text and parameter types;
 * beyond PGCONN_PREPARED_MAX statements run unprepared.
 */
#define PGCONN_PREPARED_MAX 256

typedef struct PgPrepared
{
	uint64_t	hash;
	char	   *key;			/* the SQL text, then the types' bytes */
	size_t		keylen;
} PgPrepared;

/*
 * A connection in pipeline mode (nonblocking) and what it knows: the
 * statements it has prepared, those whose Prepare is sent but unread, and
 * how many transactions it has sent whose results are not all read.
 */
typedef struct PgPipe
{
	PGconn	   *conn;
	bool		corkable;		/* a TCP socket whose TCP_CORK took */
	int			pending;
	int			nprepared;
	PgPrepared	prepared[PGCONN_PREPARED_MAX];
	int			npreparing;
	uint64_t	preparing[PGCONN_PREPARED_MAX];
} PgPipe;

/*
 * One transaction of a pipeline: its statements, closed by a Sync, and
 * their results. The caller sets stmts, n and results (n slots), and may
 * set split; the pool sets chain and last; the rest is pgconn.c's, from
 * sending to reading.
 *
 * split > 0 makes the job two transactions: statements 0 to split - 1 are
 * closed by a Sync of their own, the rest by the job's. The second runs
 * whatever happened to the first, after its commit: the place for a
 * statement that must see the first one committed (the WAL position of
 * its commit), in the same round trip.
 *
 * chain sends the job as an explicit transaction (BEGIN, its statements,
 * COMMIT) with no Sync of its own, unless last is set: the job that ends
 * the run goes bare, its statements and the Sync, a transaction of its own
 * as a job sent alone is. A run of chained jobs shares that one Sync, so
 * the server answers the run in one write instead of one per job
 * (PostgreSQL flushes its output at every Sync), which roughly halves what
 * a busy pool costs the server and the edge per call. The price: the
 * first failure in a run makes the server skip the rest of it up to the
 * Sync, and pgconn_pipe_ran then says those jobs did not run, to be sent
 * again, alone. A failure at COMMIT (a deferred constraint) stands as the
 * last statement's result. A split job is never chained.
 */
typedef struct PgPipelineJob
{
	const PgStatement *stmts;
	int			n;
	int			split;			/* 0: one transaction */
	PGresult  **results;		/* n first results, for the caller to PQclear */
	bool		chain;			/* BEGIN ... COMMIT, or bare and the Sync if last */
	bool		last;			/* a chained job that ends its run */
	bool		ran;			/* false: skipped for a failure before it */
	bool		rollback;		/* a ROLLBACK goes first (a failed run's block) */
	int			nq;				/* queries: ROLLBACK, BEGIN, statements, COMMIT */
	signed char how[PGCONN_QUERIES_MAX];	/* 1 prepare, 0 prepared, -1 neither */
	uint64_t	hashes[PGCONN_QUERIES_MAX];
	int			next;			/* the query being read; nq: the last Sync */
	bool		syncing;		/* the queries before a Sync are read */
	bool		commit_error;	/* read the error of a Sync's commit */
	bool		preparing;		/* reading its Prepare's result */
	PGresult   *first;			/* the first result of the query being read */
	PGresult   *frame;			/* the result of a ROLLBACK, BEGIN or COMMIT */
} PgPipelineJob;

extern bool pgconn_conninfo_valid(const char *conninfo);
extern PGconn *pgconn_connect(const char *conninfo, int64_t deadline_ms,
							  char *err, size_t errlen);
extern PGconn *pgconn_connect_start(const char *conninfo, char *err,
									size_t errlen);
extern bool pgconn_connect_ready(PGconn *conn, char *err, size_t errlen);
extern PGresult *pgconn_query(PGconn *conn, const char *sql, int nparams,
							  const char *const *params, int64_t deadline_ms,
							  char *err, size_t errlen);
extern bool pgconn_select1(PGconn *conn, int64_t deadline_ms,
						   char *err, size_t errlen);

extern bool pgconn_pipe_open(PgPipe *p, PGconn *conn, char *err, size_t errlen);
extern void pgconn_pipe_close(PgPipe *p);
extern bool pgconn_pipe_send(PgPipe *p, PgPipelineJob *j, char *err,
							 size_t errlen);
extern int	pgconn_pipe_flush(PgPipe *p, char *err, size_t errlen);
extern void pgconn_pipe_cork(PgPipe *p, bool on);
extern bool pgconn_pipe_consume(PgPipe *p, char *err, size_t errlen);
extern int	pgconn_pipe_read(PgPipe *p, PgPipelineJob *j, char *err,
							 size_t errlen);
extern bool pgconn_pipe_ran(const PgPipelineJob *j);
extern void pgconn_pipe_forget(PgPipelineJob *j);

#endif							/* EDGE_PGCONN_H */
