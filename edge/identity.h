/*
 * identity.h
 *		Who is calling: the credential of a request, verified.
 *
 * A request carries `Authorization: Bearer <access token>`, an
 * `X-API-Key: <key>` (service accounts), or the access token in the cookie
 * WARDEN_TOKEN_COOKIE names, looked at in that order (credential.c). Tokens are verified
 * in the edge (verifier.c), without the database. API keys are checked by
 * warden.verify_api_key() once and then kept in process and in Redis
 * (shared.c; by digest, never in clear) until a change of API keys or
 * principals is notified, a minute passes, or the key expires.
 *
 * Every handler that needs a caller uses identity_resolve(); one that
 * needed the database resumes in the handler's complete function, which
 * calls identity_result().
 */
#ifndef EDGE_IDENTITY_H
#define EDGE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "credential.h"
#include "http.h"
#include "verifier.h"

typedef enum IdentityStatus
{
	IDENTITY_OK,
	IDENTITY_NONE,				/* no credential at all */
	IDENTITY_INVALID,			/* a credential that does not verify */
	IDENTITY_UNAVAILABLE,		/* cannot tell now: no state, no database */
	IDENTITY_PENDING			/* suspended: complete will be called */
} IdentityStatus;

extern bool identity_init(int db_timeout_ms, size_t api_key_cache_entries);
extern void identity_shutdown(void);

/*
 * Where a lookup that left the process stands; the handler keeps it (in its
 * context) from identity_resolve to the last identity_result.
 */
typedef struct IdentityLookup
{
	int			step;			/* 0: none; 1: Redis asked; 2: PostgreSQL asked */
	uint64_t	version;		/* the API-key version when it started */
	uint64_t	generation;		/* and the in-process cache's generation */
} IdentityLookup;

/* cred: what credential_read() found in the request. */
extern IdentityStatus identity_resolve(HttpRequest *req, const Credential *cred,
									   IdentityLookup *lk, Identity *out,
									   HttpHandler complete);

/*
 * In complete, after IDENTITY_PENDING: the outcome, or PENDING again when
 * Redis did not have the key and PostgreSQL has been asked (complete runs
 * once more).
 */
extern IdentityStatus identity_result(HttpRequest *req, IdentityLookup *lk,
									  Identity *out, HttpHandler complete);

/* The API-key version, from NOTIFY warden_tokens or a full load. */
extern void identity_api_keys_changed(uint64_t version, bool full_load);

/* For /metrics. */
extern void identity_api_key_stats(uint64_t *hits, uint64_t *misses);

/*
 * The scopes of an identity as a PostgreSQL text[] literal, or NULL when
 * it has no scope limit; false when it does not fit.
 */
extern bool identity_scopes_literal(const Identity *who, char *out,
									size_t outsize, const char **param);

#endif							/* EDGE_IDENTITY_H */
