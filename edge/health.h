/*
 * health.h
 *		Liveness and readiness: GET /healthz, GET /readyz, and the prober
 *		thread that keeps the readiness of PostgreSQL and Redis current.
 *
 * health_start() and health_stop() are called from the main thread; the
 * handlers from any HTTP worker (they only copy state under a mutex).
 */
#ifndef EDGE_HEALTH_H
#define EDGE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http.h"

extern bool health_start(const EdgeConfig *cfg, char *err, size_t errlen);
extern void health_request_stop(void);
extern void health_stop(void);

extern bool health_handle_live(HttpRequest *req);
extern bool health_handle_ready(HttpRequest *req);

#endif							/* EDGE_HEALTH_H */
