/*
 * decisions.c
 *		The cache of forward-authorization decisions (see decisions.h).
 *
 * A decision made from the database is stored under the generation that
 * was current when the question was sent, not when the answer came: if the
 * policy changed in between, the entry is already stale and the next
 * request asks again. Correct in either order, at the price of one extra
 * question after a change. See LCacheVersion for how versions become
 * generations.
 */
#include "decisions.h"

#include <stdlib.h>
#include <string.h>

#include "lcache.h"
#include "shared.h"
#include "timeutil.h"

static LCache *decisions_cache;
static int	decisions_ttl = 60000;
static LCacheVersion decisions_version = LCACHE_VERSION_INIT;

bool
decisions_init(size_t entries, int ttl_ms)
{
	decisions_ttl = ttl_ms;
	decisions_cache = lcache_new(entries);
	return decisions_cache != NULL;
}

void
decisions_shutdown(void)
{
	lcache_free(decisions_cache);
	decisions_cache = NULL;
}

static void
decisions_snapshot(uint64_t *version, uint64_t *generation)
{
	lcache_version_snapshot(&decisions_version, version, generation);
}

void
decisions_policy(uint64_t version, bool full_load)
{
	lcache_version_set(&decisions_version, version, full_load);
}

uint64_t
decisions_policy_version(void)
{
	return lcache_version_get(&decisions_version);
}

/*
 * The decision's key in dl: subject, scope, method and path (without its
 * query), separated by NUL, which none of them can contain. TOO_LONG for a
 * method or path no key may hold; the key is dl's room, or the heap's.
 */
static DecisionStep
decisions_key(DecisionLookup *dl, const Identity *who, const char *method,
			  const char *uri)
{
	size_t		path_len = strcspn(uri, "?#");
	size_t		sl = strlen(who->subject);
	size_t		pl = who->has_scope ? strlen(who->scope) : 0;
	size_t		ml = strlen(method);
	size_t		n = 0;
	char	   *key;

	if (path_len > 8192 || ml > 16)
		return DECISION_TOO_LONG;
	dl->keylen = sl + 1 + 1 + pl + 1 + ml + 1 + path_len;
	key = dl->keylen <= sizeof(dl->room) ? dl->room : malloc(dl->keylen);
	if (key == NULL)
		return DECISION_NO_MEMORY;
	dl->key = key;
	memcpy(key + n, who->subject, sl + 1);
	n += sl + 1;
	key[n++] = who->has_scope ? 's' : '-';
	memcpy(key + n, who->scope, pl);
	n += pl;
	key[n++] = '\0';
	memcpy(key + n, method, ml + 1);
	n += ml + 1;
	memcpy(key + n, uri, path_len);
	return DECISION_FOUND;
}

/* Entries hold the status and the roles' characters only (most are short). */
static bool
decisions_get(const char *key, size_t keylen, Decision *out)
{
	long		n = lcache_get(decisions_cache, key, keylen, lcache_generation(&decisions_version),
							   timeutil_mono_ms(), out, sizeof(*out) - 1);

	if (n < (long) sizeof(out->status))
		return false;
	out->roles[n - sizeof(out->status)] = '\0';
	return true;
}

static void
decisions_put(const char *key, size_t keylen, uint64_t generation,
			  const Decision *d)
{
	int64_t		now = timeutil_mono_ms();

	(void) lcache_put(decisions_cache, key, keylen, generation, now,
					  now + decisions_ttl, d,
					  sizeof(d->status) + strnlen(d->roles, sizeof(d->roles) - 1));
}

DecisionStep
decisions_lookup(HttpRequest *req, DecisionLookup *dl, const Identity *who,
				 const char *method, const char *path, Decision *d,
				 HttpHandler complete)
{
	DecisionStep step;

	decisions_release(dl);
	if ((step = decisions_key(dl, who, method, path)) != DECISION_FOUND)
		return step;
	if (decisions_get(dl->key, dl->keylen, d))
		return DECISION_FOUND;
	decisions_snapshot(&dl->version, &dl->generation);
	return shared_decision_get(req, dl->version, dl->key, dl->keylen, complete) ?
		DECISION_PENDING : DECISION_ASK;
}

DecisionStep
decisions_redis_result(HttpRequest *req, DecisionLookup *dl, Decision *d)
{
	if (!shared_decision_result(req, d))
		return DECISION_ASK;
	decisions_put(dl->key, dl->keylen, dl->generation, d);
	return DECISION_FOUND;
}

void
decisions_store(const DecisionLookup *dl, const Decision *d)
{
	decisions_put(dl->key, dl->keylen, dl->generation, d);
	shared_decision_put(dl->version, dl->key, dl->keylen, d, decisions_ttl);
}

void
decisions_release(DecisionLookup *dl)
{
	if (dl->key != NULL && dl->key != dl->room)
		free(dl->key);
	dl->key = NULL;
}

void
decisions_stats(uint64_t *hits, uint64_t *misses, size_t *entries)
{
	lcache_stats(decisions_cache, hits, misses);
	*entries = lcache_count(decisions_cache);
}
