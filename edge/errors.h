/*
 * errors.h
 *		The one mapping from a failure to an HTTP response.
 *
 * Every error the edge answers with is a kind from this list; errors.c holds
 * its status and its machine-readable code, and builds the one body shape
 * {"error": code, "message": message}. Thread-safe (no state).
 */
#ifndef EDGE_ERRORS_H
#define EDGE_ERRORS_H

#include <stdbool.h>

#include "http.h"

typedef enum EdgeError
{
	EDGE_ERR_BAD_REQUEST,
	EDGE_ERR_FORBIDDEN,
	EDGE_ERR_NOT_FOUND,
	EDGE_ERR_METHOD_NOT_ALLOWED,
	EDGE_ERR_PAYLOAD_TOO_LARGE,
	EDGE_ERR_TOO_MANY_REQUESTS,
	EDGE_ERR_UNSUPPORTED_MEDIA_TYPE,
	EDGE_ERR_INTERNAL,
	EDGE_ERR_NOT_IMPLEMENTED,
	EDGE_ERR_UNAVAILABLE
} EdgeError;

/* message NULL: the kind's default message. */
extern bool errors_respond(HttpRequest *req, EdgeError err,
						   const char *message);

/*
 * The HTTP status of a PostgreSQL error, by SQLSTATE (one table in
 * errors.c), and its code string.
 */
extern unsigned errors_sqlstate_status(const char *sqlstate,
									   const char **code);

/*
 * Answers a PostgreSQL error raised by a function the client called:
 * {"error": code, "message": ..., "sqlstate": ...} with the status of
 * errors_sqlstate_status(). The database's message (and hint) is shown for
 * client errors (4xx) only, masked by the PII scanner first; server errors
 * get the kind's own message. 503 carries Retry-After.
 */
extern bool errors_respond_sqlstate(HttpRequest *req, const char *sqlstate,
									const char *message, const char *hint);

#endif							/* EDGE_ERRORS_H */
