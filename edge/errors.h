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
	EDGE_ERR_NOT_FOUND,
	EDGE_ERR_METHOD_NOT_ALLOWED,
	EDGE_ERR_PAYLOAD_TOO_LARGE,
	EDGE_ERR_TOO_MANY_REQUESTS,
	EDGE_ERR_INTERNAL,
	EDGE_ERR_UNAVAILABLE
} EdgeError;

/* message NULL: the kind's default message. */
extern bool errors_respond(HttpRequest *req, EdgeError err,
						   const char *message);

#endif							/* EDGE_ERRORS_H */
