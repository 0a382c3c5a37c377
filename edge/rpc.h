/*
 * rpc.h
 *		/v1/rpc/{function}: calls a function of the API schema (see rpc.c).
 */
#ifndef EDGE_RPC_H
#define EDGE_RPC_H

#include "http.h"

/* The route's prefix; the function's name follows it. */
#define RPC_PREFIX "/v1/rpc/"
/* The largest body a call takes. */
#define RPC_MAX_BODY (1024 * 1024)

/*
 * Before the daemon starts: the API schema, the role calls run as (""
 * turns the endpoint off), and the budget of a request on PostgreSQL.
 */
extern void rpc_configure(const char *api_schema, const char *db_role,
						  int db_timeout_ms, int cache_ttl_ms);
extern bool rpc_handle(HttpRequest *req);

/* After the daemon stopped: frees the catalog cache. */
extern void rpc_stop(void);

#endif							/* EDGE_RPC_H */
