/*
 * ratelimit.h
 *		Rate limits of the edge: token buckets per client address, per
 *		principal and for password logins, shared by every edge through
 *		Redis, kept in process while Redis is away.
 *
 * A handler calls ratelimit_check() where a limit applies; the check
 * either lets the request through to next (on the request's thread, now
 * or after the Redis round trip) or answers 429 with Retry-After itself.
 * Every answer of a checked request carries RateLimit-Limit,
 * RateLimit-Remaining and RateLimit-Reset about its tightest bucket.
 *
 *	RATELIMIT_CLIENT	WARDEN_RATE_LIMIT_IP, per client address: call it
 *						first, before any work (/v1/auth/..., /v1/rpc/...);
 *	RATELIMIT_PRINCIPAL	WARDEN_RATE_LIMIT_PRINCIPAL, per principal (name):
 *						call it once the principal is known (/v1/rpc/...);
 *	RATELIMIT_LOGIN		WARDEN_RATE_LIMIT_LOGIN_IP per client address and
 *						WARDEN_RATE_LIMIT_LOGIN per user name (name), for
 *						password logins.
 *	RATELIMIT_NOWAIT	with the others: decide without waiting for Redis
 *						(the edge's buckets, and refusals Redis gave
 *						lately), counting the request in Redis meanwhile,
 *						for paths that must not pay a round trip per call
 *						(/v1/rpc/...). Not for logins.
 *
 * Several flags count the request in each of their buckets at once, all
 * or nothing. Names and addresses never reach Redis or the log in clear:
 * buckets are named by digests.
 *
 * The request's data (http_set_data) is kept aside while the check waits
 * and is back in place when next runs.
 *
 * Threads: ratelimit_configure and ratelimit_free from the main thread,
 * before the daemon starts and after it stopped; the rest from request
 * handlers, any number at once.
 */
#ifndef EDGE_RATELIMIT_H
#define EDGE_RATELIMIT_H

#include <stdbool.h>

#include "config.h"
#include "http.h"

#define RATELIMIT_CLIENT	(1u << 0)
#define RATELIMIT_PRINCIPAL	(1u << 1)
#define RATELIMIT_LOGIN		(1u << 2)
/* decide at once by this edge's buckets, count in Redis meanwhile (ratelimit.c) */
#define RATELIMIT_NOWAIT	(1u << 3)

extern bool ratelimit_configure(const EdgeConfig *cfg);
extern void ratelimit_free(void);

/*
 * Counts req in the buckets of limits (name: the principal or user name,
 * for RATELIMIT_PRINCIPAL and RATELIMIT_LOGIN; NULL skips those buckets),
 * then runs next or answers 429. Returns what next returned, or whether
 * the 429 (or the suspension) could be queued.
 */
extern bool ratelimit_check(HttpRequest *req, unsigned limits, const char *name,
							HttpHandler next);

/* For /metrics. */
typedef struct RateLimitStats
{
	unsigned long limited_ip;	/* 429s by the bucket that refused */
	unsigned long limited_principal;
	unsigned long limited_login_ip;
	unsigned long limited_login_user;
	unsigned long local;		/* checks decided in process (Redis away) */
} RateLimitStats;

extern void ratelimit_stats(RateLimitStats *stats);

#endif							/* EDGE_RATELIMIT_H */
