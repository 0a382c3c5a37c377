/*
 * jwks.c
 *		GET /.well-known/jwks.json: warden's public signing keys as a JWK
 *		Set (RFC 7517), as warden.jwks() returns them.
 *
 * The set changes only when keys rotate, and a rotation publishes the next
 * key a full rotation ahead (warden.rotate_signing_key()), so a copy some
 * minutes old still verifies every token being issued. The edge therefore
 * keeps the set in process for JWKS_REFRESH_MS and lets clients cache it for
 * JWKS_MAX_AGE_S; a stale copy is refreshed from the database through the
 * pool (dbcall), and served as it is if the database cannot answer (a set a
 * little old beats no set). Clients revalidate with the ETag (304).
 *
 * Locking: jwks_lock guards the cached set.
 */
#include "jwks.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbcall.h"
#include "errors.h"
#include "log.h"
#include "siphash.h"
#include "timeutil.h"

#define JWKS_REFRESH_MS 30000
#define JWKS_MAX_AGE_S 300
#define JWKS_ETAG_MAX 24

static pthread_mutex_t jwks_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *jwks_set;		/* NULL until loaded */
static char jwks_etag[JWKS_ETAG_MAX];
static int64_t jwks_loaded_ms;
static int	jwks_timeout_ms = 3000;

void
jwks_configure(int db_timeout_ms)
{
	jwks_timeout_ms = db_timeout_ms;
}

/*
 * A strong ETag: SipHash of the set's compact text under a fixed key, so
 * every replica gives the same set the same tag (a client revalidating at
 * another replica still gets its 304).
 */
static void
jwks_make_etag(const char *text, char *out)
{
	static const unsigned char key[SIPHASH_KEY_LEN] = "warden jwks etag";
	uint64_t	h = siphash24(key, text, strlen(text));

	snprintf(out, JWKS_ETAG_MAX, "\"%016llx\"", (unsigned long long) h);
}

/* The cached set (a new reference) and its ETag, or NULL. */
static json_t *
jwks_get(char *etag, bool *stale)
{
	json_t	   *set;

	pthread_mutex_lock(&jwks_lock);
	set = json_incref(jwks_set);
	memcpy(etag, jwks_etag, JWKS_ETAG_MAX);
	*stale = set == NULL || timeutil_mono_ms() - jwks_loaded_ms > JWKS_REFRESH_MS;
	pthread_mutex_unlock(&jwks_lock);
	return set;
}

static void
jwks_store(json_t *set)
{
	char	   *text = json_dumps(set, JSON_COMPACT | JSON_SORT_KEYS);
	char		etag[JWKS_ETAG_MAX];

	if (text == NULL)
	{
		json_decref(set);
		return;
	}
	jwks_make_etag(text, etag);
	free(text);
	pthread_mutex_lock(&jwks_lock);
	json_decref(jwks_set);
	jwks_set = set;
	memcpy(jwks_etag, etag, JWKS_ETAG_MAX);
	jwks_loaded_ms = timeutil_mono_ms();
	pthread_mutex_unlock(&jwks_lock);
}

/* Answers from the cache: the set, 304, or 503 when there is none. */
static bool
jwks_answer(HttpRequest *req)
{
	char		etag[JWKS_ETAG_MAX];
	char		cache[64];
	bool		stale;
	json_t	   *set = jwks_get(etag, &stale);
	const char *match;

	if (set == NULL)
		return errors_respond(req, EDGE_ERR_UNAVAILABLE,
							  "the signing keys cannot be read now");
	snprintf(cache, sizeof(cache), "public, max-age=%d", JWKS_MAX_AGE_S);
	if (!http_add_header(req, "Cache-Control", cache) ||
		!http_add_header(req, "ETag", etag))
	{
		json_decref(set);
		return false;
	}
	match = http_request_header(req, "If-None-Match");
	if (match != NULL && strstr(match, etag) != NULL)
	{
		json_decref(set);
		return http_respond_empty(req, 304);
	}
	return http_respond_json(req, 200, set);
}

/* After the database answered (or could not): keep a new set, answer. */
static bool
jwks_refreshed(HttpRequest *req)
{
	const DbCallResult *r = dbcall_result(req);
	json_t	   *set = r->value != NULL ? json_loads(r->value, 0, NULL) : NULL;

	if (set != NULL)
		jwks_store(set);
	else
		log_write(LOG_LEVEL_WARN, "could not read the signing keys", "{s:s, s:s}",
				  "error", r->unavailable ? "database unavailable" :
				  r->sqlstate[0] != '\0' ? r->sqlstate : "no set",
				  "request_id", http_request_id(req));
	return jwks_answer(req);
}

bool
jwks_handle(HttpRequest *req)
{
	char		etag[JWKS_ETAG_MAX];
	bool		stale;
	json_t	   *set = jwks_get(etag, &stale);

	json_decref(set);
	if (!stale)
		return jwks_answer(req);
	return dbcall_submit(req, "SELECT warden.jwks()::text", 0, NULL, jwks_timeout_ms,
						 jwks_refreshed, 0);
}
