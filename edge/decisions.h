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

#include "verifier.h"

#define DECISION_ROLES_MAX 1024

typedef struct Decision
{
	int			status;			/* 200 or 403 */
	char		roles[DECISION_ROLES_MAX];	/* comma-separated, for X-Warden-Roles */
} Decision;

/* A decision's cache key; the caller's buffer holds DECISION_KEY_MAX. */
#define DECISION_KEY_MAX (IDENTITY_NAME_MAX + IDENTITY_SCOPE_MAX + 8192 + 32)

extern bool decisions_init(size_t entries, int ttl_ms);
extern void decisions_shutdown(void);

/*
 * Entries are stored under a generation, which changes with the policy
 * version: take it before asking the database, and store the answer under
 * it (see decisions.c).
 */
extern uint64_t decisions_generation(void);
/* The policy version and its generation, together (for shared.c's keys). */
extern void decisions_snapshot(uint64_t *version, uint64_t *generation);

/*
 * The policy version from a NOTIFY (only a newer one counts: notifications
 * may be read late) or from a full load (any other value counts: the
 * database may have been restored).
 */
extern void decisions_policy(uint64_t version, bool full_load);
extern uint64_t decisions_policy_version(void);

/* Length of the key of (who, method, uri) written to key, or 0 when too long. */
extern size_t decisions_key(const Identity *who, const char *method,
							const char *uri, char *key);

extern bool decisions_get(const char *key, size_t keylen, Decision *out);

/* The longest a decision is kept (WARDEN_DECISION_CACHE_TTL_MS). */
extern int	decisions_ttl_ms(void);

/* Stores a decision asked for under generation. */
extern void decisions_put(const char *key, size_t keylen, uint64_t generation,
						  const Decision *d);

extern void decisions_stats(uint64_t *hits, uint64_t *misses, size_t *entries);

#endif							/* EDGE_DECISIONS_H */
