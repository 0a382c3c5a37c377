/*
 * dbcall.h
 *		One SQL statement for one request, on the pool: the request is
 *		suspended, the statement runs on a pool thread with its parameters
 *		bound, and the request's completion handler reads the outcome.
 *
 * The outcome keeps the first column of the first row as text (the edge's
 * statements return one value, often jsonb), or the SQLSTATE of an error,
 * or "unavailable" when no connection could run it in time. Parameter
 * copies are wiped when the request ends: they are often credentials.
 */
#ifndef EDGE_DBCALL_H
#define EDGE_DBCALL_H

#include <stdbool.h>

#include "http.h"

#define DBCALL_MAX_PARAMS 4

typedef struct DbCallResult
{
	bool		unavailable;	/* no connection, timed out, or broke */
	char		sqlstate[6];	/* "" when the statement succeeded */
	const char *value;			/* first column of the first row; NULL: none or null */
	int			tag;			/* the caller's, from dbcall_submit */
} DbCallResult;

/*
 * Suspends req and runs sql with params (NULL entries are SQL nulls) within
 * timeout_ms; complete runs afterwards on the request's thread and reads
 * dbcall_result(req), which carries tag back to it. False only when nothing could be set up (the
 * connection then closes).
 */
extern bool dbcall_submit(HttpRequest *req, const char *sql, int nparams,
						  const char *const *params, int timeout_ms,
						  HttpHandler complete, int tag);

extern const DbCallResult *dbcall_result(HttpRequest *req);

/* Statements that found no connection in time, since the start. */
extern unsigned long dbcall_unavailable_total(void);

#endif							/* EDGE_DBCALL_H */
