/*
 * decisions.h
 *		The edge's cache of forward-authorization decisions.
 *
 * A decision (warden.decide(): status, and the principal's roles) depends
 * on the policy alone, so it is kept under the policy version it was made
 * in: NOTIFY warden_policy carries each new version (listener.c passes it
 * here) and from then on every older decision is a miss, in every edge at
 * once. The TTL only bounds memory.
 *
 * Keys: the principal, its scope limit, the method and the path without
 * its query (warden.match_route() ignores the query).
 */
#ifndef EDGE_DECISIONS_H
#define EDGE_DECISIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "verifier.h"

#define DECISION_ROLES_MAX 1024

typedef struct Decision
{
	int			status;			/* 200 or 403 */
	char		roles[DECISION_ROLES_MAX];	/* comma-separated, for X-Warden-Roles */
} Decision;

/* A decision's cache key is at most this long. */
#define DECISION_KEY_MAX (IDENTITY_NAME_MAX + IDENTITY_SCOPE_MAX + 8192 + 32)

extern bool decisions_init(size_t entries, int ttl_ms);
extern void decisions_shutdown(void);

/*
 * The policy version from a NOTIFY (only a newer one counts: notifications
 * may be read late) or from a full load (any other value counts: the
 * database may have been restored).
 */
extern void decisions_policy(uint64_t version, bool full_load);
extern uint64_t decisions_policy_version(void);

/*
 * A decision looked up across the steps of a request: in process, then in
 * Redis (shared.c), then by the caller in the database. The caller keeps
 * the DecisionLookup in its request state.
 */
/*
 * Keys up to this long stay in the lookup itself; a longer one (a long
 * path, a long scope) goes to the heap. A lookup lives in every request's
 * state, so room for the longest key (DECISION_KEY_MAX) there would be
 * most of what each request allocates and zeroes.
 */
#define DECISION_KEY_ROOM 256

typedef struct DecisionLookup
{
	uint64_t	version;		/* the policy version when asked */
	uint64_t	generation;		/* and its generation */
	size_t		keylen;
	char	   *key;			/* room, or malloc'd; NULL before a lookup */
	char		room[DECISION_KEY_ROOM];
} DecisionLookup;

typedef enum DecisionStep
{
	DECISION_FOUND,				/* *d holds it */
	DECISION_PENDING,			/* Redis asked: complete runs, then
								 * decisions_redis_result */
	DECISION_ASK,				/* ask the database, then decisions_store */
	DECISION_TOO_LONG,			/* the method or path cannot be a key */
	DECISION_NO_MEMORY			/* a long key found no room */
} DecisionStep;

extern DecisionStep decisions_lookup(HttpRequest *req, DecisionLookup *dl,
									 const Identity *who, const char *method,
									 const char *path, Decision *d,
									 HttpHandler complete);
/* After DECISION_PENDING: FOUND or ASK. */
extern DecisionStep decisions_redis_result(HttpRequest *req, DecisionLookup *dl,
										   Decision *d);
/* The database's decision, kept in process and in Redis. */
extern void decisions_store(const DecisionLookup *dl, const Decision *d);
/* Frees what the lookup holds (a long key); with the request's state. */
extern void decisions_release(DecisionLookup *dl);

extern void decisions_stats(uint64_t *hits, uint64_t *misses, size_t *entries);

#endif							/* EDGE_DECISIONS_H */
