/*
 * metrics.h
 *		GET /metrics (Prometheus text format) and the counters behind it
 *		(see metrics.c).
 */
#ifndef EDGE_METRICS_H
#define EDGE_METRICS_H

#include "http.h"

extern bool metrics_init(int db_timeout_ms, const char *version);
extern void metrics_observe(const HttpRoute *route, unsigned status, double ms);
extern bool metrics_handle(HttpRequest *req);

#endif							/* EDGE_METRICS_H */
