/*
 * dbcall.h
 *		SQL statements for one request, on the pool: the request is
 *		suspended, the statements run on the pool's connections with their
 *		parameters bound, and the request's completion handler reads the outcome.
 *
 * A call is one statement (dbcall_submit) or several (dbcall_submit_batch)
 * sent in one round trip (libpq pipeline mode), which PostgreSQL runs as
 * one implicit transaction: a statement that fails rolls back the ones
 * before it and the rest are skipped. Either way the request id goes first,
 * as the session's application_name, in the same round trip.
 *
 * The outcome keeps the first column of the first row of the last
 * statement as text (the edge's statements return one value, often JSON),
 * or the SQLSTATE, primary message and hint of the first error (never its
 * DETAIL, which may quote row data), or "unavailable" when no connection
 * could run it in time. Parameter copies are wiped when the request ends:
 * they are often credentials. A request makes one call at a time; the next
 * call replaces the outcome of the last.
 *
 * Calls go to the primary's pool unless dbcall_submit_on() names another
 * (a read replica's). Only the primary's unavailability is counted and
 * logged as such: a replica's is the router's to handle (replicas.c).
 */
#ifndef EDGE_DBCALL_H
#define EDGE_DBCALL_H

#include <stdbool.h>
#include <stdint.h>

#include "dbpool.h"
#include "http.h"
#include "pgconn.h"

#define DBCALL_MAX_STATEMENTS 8
/* An LSN as text: two 32-bit hex numbers and a slash. */
#define DBCALL_LSN_MAX 24

/*
 * dbcall_submit_on flag: after the statements' transaction commits, read
 * the WAL position (pg_current_wal_insert_lsn()) in a transaction of its
 * own in the same round trip: a position at or past the commit record, so
 * a replica that has replayed up to it sees the commit.
 */
#define DBCALL_COMMIT_LSN 0x1

/*
 * dbcall_submit_on flag: the caller's first statement names the request
 * itself, evaluating DBCALL_APPNAME_EXPR("$1") with the request id
 * (http_request_id) as its first parameter, instead of the
 * statement dbcall otherwise sends first for it: one statement fewer per
 * call (less for the server to run, one result fewer to read), for the
 * calls made most often (/v1/rpc).
 */
#define DBCALL_OWN_APPNAME 0x2
#define DBCALL_APPNAME_EXPR(param) \
	"pg_catalog.set_config('application_name', 'warden-edge ' || " param ", false)"

typedef struct DbCallResult
{
	bool		unavailable;	/* no connection, timed out, or broke */
	char		sqlstate[6];	/* "" when every statement succeeded */
	int			failed;			/* the failing statement's index, or -1 */
	const char *message;		/* its primary message; NULL: none */
	const char *hint;			/* its hint; NULL: none */
	bool		has_context;	/* raised inside a function the statement called */
	const char *value;			/* first column of the first row; NULL: none or null */
	int			tag;			/* the caller's, from dbcall_submit */
	char		lsn[DBCALL_LSN_MAX];	/* DBCALL_COMMIT_LSN: after a commit; else "" */
} DbCallResult;

/* The pool calls go to unless told otherwise: the primary's (at start-up). */
extern void dbcall_set_primary(DbPool *pool);
extern DbPool *dbcall_primary(void);

/*
 * Suspends req and runs sql with params (NULL entries are SQL nulls) within
 * timeout_ms; complete runs afterwards on the request's thread and reads
 * dbcall_result(req), which carries tag back to it. False only when nothing could be set up (the
 * connection then closes).
 */
extern bool dbcall_submit(HttpRequest *req, const char *sql, int nparams,
						  const char *const *params, int timeout_ms,
						  HttpHandler complete, int tag);

/*
 * The same for n statements (at most DBCALL_MAX_STATEMENTS) in one round
 * trip and one transaction, until an absolute deadline (timeutil_mono_ms()),
 * so that a request making several calls keeps one budget. The statements,
 * their types and values are copied.
 */
extern bool dbcall_submit_batch(HttpRequest *req, const PgStatement *stmts,
								int n, int64_t deadline_ms,
								HttpHandler complete, int tag);

/* The same on pool (NULL: the primary's), with DBCALL_* flags. */
extern bool dbcall_submit_on(HttpRequest *req, DbPool *pool, unsigned flags,
							 const PgStatement *stmts, int n,
							 int64_t deadline_ms, HttpHandler complete,
							 int tag);

extern const DbCallResult *dbcall_result(HttpRequest *req);

/* The primary's statements that found no connection in time, since the start. */
extern unsigned long dbcall_unavailable_total(void);

#endif							/* EDGE_DBCALL_H */
