/*
 * shared.h
 *		The caches edges share through Redis: authorization decisions and
 *		API-key lookups, between the in-process caches and the database.
 *
 * An edge that misses in process asks Redis before PostgreSQL, and stores
 * what PostgreSQL answers in both, so one replica's question answers the
 * others' (and a new replica starts warm). Entries are keyed by the
 * database's version of what they depend on (the policy version for
 * decisions, the API-key version for keys), which every edge learns from
 * NOTIFY: after a change, no edge asks for the old keys again and Redis
 * expires them. Keys hold SHA-256 digests, never a path, a principal or an
 * API key in clear.
 *
 * Redis is an accelerator: when it is down, slow or says something odd,
 * the lookup is a miss and PostgreSQL answers (rediscall fails fast).
 */
#ifndef EDGE_SHARED_H
#define EDGE_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decisions.h"
#include "http.h"
#include "verifier.h"

/*
 * Suspends req to look the decision of key up under the policy version;
 * complete then calls shared_decision_result. False when Redis cannot be
 * asked now (go to the database).
 */
extern bool shared_decision_get(HttpRequest *req, uint64_t version,
								const char *key, size_t keylen,
								HttpHandler complete);
extern bool shared_decision_result(HttpRequest *req, Decision *out);
extern void shared_decision_put(uint64_t version, const char *key,
								size_t keylen, const Decision *d, int ttl_ms);

/* The same for API keys, by the key's SHA-256 digest. */
extern bool shared_api_key_get(HttpRequest *req, uint64_t version,
							   const unsigned char digest[32],
							   HttpHandler complete);
extern bool shared_api_key_result(HttpRequest *req, Identity *out);
extern void shared_api_key_put(uint64_t version, const unsigned char digest[32],
							   const Identity *who, int64_t until);

/* The installation's namespace, from warden.edge_state() (listener.c). */
extern void shared_set_namespace(const char *ns);

/* For /metrics: lookups Redis answered, and those it did not. */
extern void shared_stats(uint64_t *hits, uint64_t *misses);

#endif							/* EDGE_SHARED_H */
