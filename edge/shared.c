/*
 * shared.c
 *		Decisions and API keys shared by edges through Redis (see shared.h).
 *
 * Keys:   warden:decision:<ns>:<policy version>:<hex SHA-256 of the decision key>
 *         warden:api_key:<ns>:<API-key version>:<hex SHA-256 of the API key>
 * where <ns> names the installation and its timeline (warden.edge_state()),
 * so versions of another database, or of this one before a restore, never
 * meet. Until the first state is loaded there is no <ns>, and no lookup.
 * Values: small JSON objects, read back strictly: anything else is a miss.
 * Writes are fire-and-forget (rediscall_send); a lost write costs one
 * database question later.
 */
#include "shared.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "rediscall.h"

#define SHARED_NS_MAX 64
#define SHARED_KEY_MAX (32 + SHARED_NS_MAX + 2 * DIGEST_SHA256_LEN)
/* A Redis round trip on the same network is well under this. */
#define SHARED_TIMEOUT_MS 50

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static char shared_ns[SHARED_NS_MAX + 1];	/* under shared_lock */
static atomic_uint_fast64_t shared_hits;
static atomic_uint_fast64_t shared_misses;

void
shared_set_namespace(const char *ns)
{
	size_t		len = strspn(ns, "0123456789abcdef.");

	pthread_mutex_lock(&shared_lock);
	/* anything else in it would be ours to quote: none at all instead */
	if (ns[len] == '\0' && len <= SHARED_NS_MAX)
		strcpy(shared_ns, ns);
	else
		shared_ns[0] = '\0';
	pthread_mutex_unlock(&shared_lock);
}

/* The key of an entry, or false when there is no namespace yet. */
static bool
shared_key(char *out, const char *kind, uint64_t version, const void *data,
		   size_t len, bool hash)
{
	unsigned char digest[DIGEST_SHA256_LEN];
	const unsigned char *d = data;
	char		ns[SHARED_NS_MAX + 1];
	int			n;
	int			i;

	pthread_mutex_lock(&shared_lock);
	strcpy(ns, shared_ns);
	pthread_mutex_unlock(&shared_lock);
	if (ns[0] == '\0')
		return false;
	if (hash)
	{
		if (!digest_sha256(data, len, NULL, 0, digest))
			return false;
		d = digest;
	}
	n = snprintf(out, SHARED_KEY_MAX, "warden:%s:%s:%llu:", kind, ns,
				 (unsigned long long) version);
	for (i = 0; i < DIGEST_SHA256_LEN; i++)
		n += snprintf(out + n, SHARED_KEY_MAX - (size_t) n, "%02x", d[i]);
	return true;
}

static bool
shared_get(HttpRequest *req, const char *key, HttpHandler complete)
{
	const char *argv[2] = {"GET", key};
	size_t		lens[2] = {3, strlen(key)};

	if (!rediscall_up())
		return false;
	return rediscall_submit(req, 2, argv, lens, SHARED_TIMEOUT_MS, complete);
}

/* The reply as a JSON object, or NULL (counted as a miss). */
static json_t *
shared_reply(HttpRequest *req)
{
	const redisReply *r = rediscall_result(req);
	json_t	   *v = NULL;

	if (r != NULL && r->type == REDIS_REPLY_STRING)
		v = json_loadb(r->str, r->len, 0, NULL);
	if (v != NULL && !json_is_object(v))
	{
		json_decref(v);
		v = NULL;
	}
	atomic_fetch_add(v != NULL ? &shared_hits : &shared_misses, 1);
	return v;
}

static void
shared_set(const char *key, json_t *value, int64_t ttl_ms)
{
	char	   *text = json_dumps(value, JSON_COMPACT);
	char		px[24];
	const char *argv[5] = {"SET", key, text, "PX", px};
	size_t		lens[5];

	json_decref(value);
	if (text == NULL || ttl_ms <= 0)
	{
		free(text);
		return;
	}
	snprintf(px, sizeof(px), "%lld", (long long) ttl_ms);
	for (int i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	(void) rediscall_send(5, argv, lens, NULL, NULL);
	free(text);
}

bool
shared_decision_get(HttpRequest *req, uint64_t version, const char *key,
					size_t keylen, HttpHandler complete)
{
	char		k[SHARED_KEY_MAX];

	return shared_key(k, "decision", version, key, keylen, true) &&
		shared_get(req, k, complete);
}

bool
shared_decision_result(HttpRequest *req, Decision *out)
{
	json_t	   *v = shared_reply(req);
	const char *roles;
	bool		ok;

	if (v == NULL)
		return false;
	out->status = (int) json_integer_value(json_object_get(v, "status"));
	roles = json_string_value(json_object_get(v, "roles"));
	ok = (out->status == 200 || out->status == 403) && roles != NULL &&
		strlen(roles) < sizeof(out->roles);
	if (ok)
		strcpy(out->roles, roles);
	json_decref(v);
	return ok;
}

void
shared_decision_put(uint64_t version, const char *key, size_t keylen,
					const Decision *d, int ttl_ms)
{
	char		k[SHARED_KEY_MAX];

	if (shared_key(k, "decision", version, key, keylen, true))
		shared_set(k, json_pack("{s:i, s:s}", "status", d->status, "roles", d->roles), ttl_ms);
}

bool
shared_api_key_get(HttpRequest *req, uint64_t version,
				   const unsigned char digest[32], HttpHandler complete)
{
	char		k[SHARED_KEY_MAX];

	return shared_key(k, "api_key", version, digest, 32, false) &&
		shared_get(req, k, complete);
}

bool
shared_api_key_result(HttpRequest *req, Identity *out)
{
	json_t	   *v = shared_reply(req);
	const char *sub;
	const char *tenant;
	const char *scope;
	bool		ok;

	if (v == NULL)
		return false;
	sub = json_string_value(json_object_get(v, "subject"));
	tenant = json_string_value(json_object_get(v, "tenant"));
	scope = json_string_value(json_object_get(v, "scope"));
	memset(out, 0, sizeof(*out));
	ok = sub != NULL && tenant != NULL && strlen(sub) < sizeof(out->subject) &&
		strlen(tenant) < sizeof(out->tenant) &&
		(scope == NULL || strlen(scope) < sizeof(out->scope));
	if (ok)
	{
		strcpy(out->subject, sub);
		strcpy(out->tenant, tenant);
		out->has_scope = scope != NULL;
		if (scope != NULL)
			strcpy(out->scope, scope);
		out->expires = json_integer_value(json_object_get(v, "expires"));
		out->api_key = true;
		/* an expired key is a miss, whatever Redis still holds */
		ok = out->expires == 0 || out->expires > (int64_t) time(NULL);
	}
	json_decref(v);
	return ok;
}

void
shared_api_key_put(uint64_t version, const unsigned char digest[32],
				   const Identity *who, int64_t until)
{
	char		k[SHARED_KEY_MAX];

	if (shared_key(k, "api_key", version, digest, 32, false))
		shared_set(k, json_pack("{s:s, s:s, s:s?, s:I}", "subject", who->subject,
							"tenant", who->tenant, "scope", who->has_scope ? who->scope : NULL,
							"expires", (json_int_t) who->expires),
			   (until - (int64_t) time(NULL)) * 1000);
}

void
shared_stats(uint64_t *hits, uint64_t *misses)
{
	*hits = atomic_load(&shared_hits);
	*misses = atomic_load(&shared_misses);
}
