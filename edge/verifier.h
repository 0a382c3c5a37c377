/*
 * verifier.h
 *		Access tokens verified in the edge: core/jwt.c with the keys, the
 *		revocations and the settings warden.verify() uses, kept in memory.
 *
 * The state comes from warden.edge_state() and from NOTIFY warden_tokens
 * (listener.c feeds both in); until the first state has loaded nothing
 * verifies (VERIFY_NOT_READY), because "invalid" would be a wrong answer.
 * The answers are warden.verify()'s: same keys (active, and retiring ones
 * until their verify_until), issuer, audience, leeway, size limit, and the
 * same revocation rules (revoked ids, disabled principals, tokens issued
 * before a revoke_all).
 *
 * A verified token is remembered (by its SHA-256 digest) until it expires,
 * so a token seen again costs a hash lookup, not an RSA signature check.
 * Revocation is checked on every call, cached token or not.
 *
 * Thread-safe: a reader-writer lock guards the state; verifications share
 * it, changes take it alone.
 */
#ifndef EDGE_VERIFIER_H
#define EDGE_VERIFIER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* principals.name is at most 256 characters (warden--0.1.0.sql). */
#define IDENTITY_NAME_MAX 256
#define IDENTITY_SCOPE_MAX 2048

/* Who a credential belongs to, and what it may be used for. */
typedef struct Identity
{
	char		subject[IDENTITY_NAME_MAX + 1];
	char		tenant[IDENTITY_NAME_MAX + 1];	/* "": none */
	bool		has_scope;		/* false: limited by nothing but grants */
	char		scope[IDENTITY_SCOPE_MAX + 1];	/* space-separated permissions */
	int64_t		expires;		/* Unix time; 0: never (API keys) */
	bool		api_key;
} Identity;

typedef enum VerifyStatus
{
	VERIFY_OK,
	VERIFY_INVALID,				/* forged, expired, revoked, malformed */
	VERIFY_NOT_READY			/* no state loaded yet */
} VerifyStatus;

/* Before any thread uses the verifier; false when out of memory. */
extern bool verifier_init(size_t cache_entries);
extern void verifier_shutdown(void);

extern VerifyStatus verifier_verify(const char *token, size_t len,
									Identity *out);

/* The state of warden.edge_state(), replacing everything held before. */
extern bool verifier_load(const json_t *state, char *err, size_t errlen);

/* One change, as NOTIFY warden_tokens carries it (see there). */
extern void verifier_revoke(const char *jti, int64_t exp);
extern void verifier_principal(const char *name, bool enabled,
							   int64_t valid_after);

extern bool verifier_ready(void);
/* Back to not ready (a state found incomplete): nothing verifies. */
extern void verifier_unload(void);

/* For /metrics: verifications by outcome, and the token cache. */
typedef struct VerifierStats
{
	uint64_t	ok;
	uint64_t	invalid;
	uint64_t	cache_hits;
	uint64_t	cache_misses;
	size_t		keys;
	size_t		revoked;
} VerifierStats;

extern void verifier_stats(VerifierStats *out);

#endif							/* EDGE_VERIFIER_H */
