/*
 * routes.h
 *		The table of the edge's endpoints.
 *
 * Read-only after start-up; any thread may look routes up.
 */
#ifndef EDGE_ROUTES_H
#define EDGE_ROUTES_H

#include "http.h"

extern const HttpRoute *routes_find(const char *path);
extern const HttpRoute *routes_all(size_t *n);
/* The request's route's handler, after the route's rate limits. */
extern bool routes_enter(HttpRequest *req);

#endif							/* EDGE_ROUTES_H */
