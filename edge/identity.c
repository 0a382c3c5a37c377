/*
 * identity.c
 *		Who is calling (see identity.h).
 *
 * The API-key cache is an lcache keyed by the key's SHA-256 digest, under a
 * generation that NOTIFY warden_tokens {"api_keys": N} advances, so a
 * revoked key stops working at every edge as soon as the revocation
 * commits. A lookup is stored under the generation (and, in Redis, the
 * version) current when it started: if a change came in meanwhile, the
 * entry is stale at once, as its answer may predate the change.
 */
#include "identity.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "credential.h"
#include "dbcall.h"
#include "digest.h"
#include "lcache.h"
#include "log.h"
#include "shared.h"

/* wdn_<prefix>_<secret> is 60 characters; anything much longer is not a key. */
#define IDENTITY_API_KEY_MAX 128
#define IDENTITY_API_KEY_TTL_S 60

#define IDENTITY_API_KEY_SQL \
	"SELECT (k || jsonb_build_object('expires_unix', " \
	"floor(extract(epoch FROM (k->>'expires_at')::timestamptz))))::text " \
	"FROM warden.verify_api_key($1) k"

static int	identity_timeout_ms = 3000;
static LCache *identity_keys;
static LCacheVersion identity_keys_version = LCACHE_VERSION_INIT;

bool
identity_init(int db_timeout_ms, size_t api_key_cache_entries)
{
	identity_timeout_ms = db_timeout_ms;
	identity_keys = lcache_new(api_key_cache_entries);
	return identity_keys != NULL;
}

void
identity_shutdown(void)
{
	lcache_free(identity_keys);
	identity_keys = NULL;
}

void
identity_api_keys_changed(uint64_t version, bool full_load)
{
	lcache_version_set(&identity_keys_version, version, full_load);
}

void
identity_api_key_stats(uint64_t *hits, uint64_t *misses)
{
	lcache_stats(identity_keys, hits, misses);
}

static IdentityStatus
identity_token(const char *token, Identity *out)
{
	switch (verifier_verify(token, strlen(token), out))
	{
		case VERIFY_OK:
			return IDENTITY_OK;
		case VERIFY_INVALID:
			return IDENTITY_INVALID;
		case VERIFY_NOT_READY:
			break;
	}
	return IDENTITY_UNAVAILABLE;
}

/* The key's digest, when it has the shape of a key at all. */
static bool
identity_key_digest(const char *key, unsigned char digest[DIGEST_SHA256_LEN])
{
	size_t		len = strlen(key);

	return len <= IDENTITY_API_KEY_MAX && strncmp(key, "wdn_", 4) == 0 &&
		digest_sha256(key, len, NULL, 0, digest);
}

/* The API key's lookup in PostgreSQL. */
static IdentityStatus
identity_ask_database(HttpRequest *req, IdentityLookup *lk, HttpHandler complete)
{
	const char *key = http_request_header(req, "X-API-Key");

	lk->step = 2;
	return dbcall_submit(req, IDENTITY_API_KEY_SQL, 1, &key, identity_timeout_ms,
						 complete, 0) ? IDENTITY_PENDING : IDENTITY_UNAVAILABLE;
}

IdentityStatus
identity_resolve(HttpRequest *req, const Credential *cred, IdentityLookup *lk,
				 Identity *out, HttpHandler complete)
{
	unsigned char digest[DIGEST_SHA256_LEN];
	IdentityStatus st = IDENTITY_NONE;

	lk->step = 0;
	switch (cred->kind)
	{
		case CREDENTIAL_NONE:
			break;
		case CREDENTIAL_MALFORMED:
			st = IDENTITY_INVALID;
			break;
		case CREDENTIAL_TOKEN:
			st = identity_token(cred->value, out);
			break;
		case CREDENTIAL_API_KEY:
			if (!identity_key_digest(cred->value, digest))
			{
				st = IDENTITY_INVALID;
				break;
			}
			lcache_version_snapshot(&identity_keys_version, &lk->version, &lk->generation);
			if (lcache_get(identity_keys, digest, sizeof(digest), lk->generation, time(NULL),
						   out, sizeof(*out)) == (long) sizeof(*out))
			{
				st = IDENTITY_OK;
				break;
			}
			lk->step = 1;
			st = shared_api_key_get(req, lk->version, digest, complete) ?
				IDENTITY_PENDING : identity_ask_database(req, lk, complete);
			break;
	}
	return st;
}

/* {service_account, tenant, scopes, expires_unix} into an Identity. */
static bool
identity_from_key(const json_t *k, Identity *out)
{
	const char *sa = json_string_value(json_object_get(k, "service_account"));
	const char *tenant = json_string_value(json_object_get(k, "tenant"));
	const json_t *scopes = json_object_get(k, "scopes");
	size_t		used = 0;
	size_t		i;
	json_t	   *s;

	memset(out, 0, sizeof(*out));
	if (sa == NULL || strlen(sa) > IDENTITY_NAME_MAX ||
		(tenant != NULL && strlen(tenant) > IDENTITY_NAME_MAX))
		return false;
	strcpy(out->subject, sa);
	if (tenant != NULL)
		strcpy(out->tenant, tenant);
	/* as warden.authorize(): a key without scopes is limited by grants only */
	out->has_scope = json_array_size(scopes) > 0;
	json_array_foreach(scopes, i, s)
	{
		int			n = snprintf(out->scope + used, sizeof(out->scope) - used, "%s%s",
								 used > 0 ? " " : "", json_string_value(s) ?: "");

		if (n < 0 || (size_t) n >= sizeof(out->scope) - used)
			return false;
		used += (size_t) n;
	}
	out->expires = json_integer_value(json_object_get(k, "expires_unix"));
	out->api_key = true;
	return true;
}

/* Keeps a key's identity in process and in Redis, until until (Unix time). */
static void
identity_keep(HttpRequest *req, const IdentityLookup *lk, const Identity *who,
			  bool in_redis)
{
	const char *key = http_request_header(req, "X-API-Key");
	unsigned char digest[DIGEST_SHA256_LEN];
	int64_t		now = time(NULL);
	int64_t		until = now + IDENTITY_API_KEY_TTL_S;

	if (key == NULL || !identity_key_digest(key, digest))
		return;
	if (who->expires != 0 && who->expires < until)
		until = who->expires;
	(void) lcache_put(identity_keys, digest, sizeof(digest), lk->generation, now, until,
					  who, sizeof(*who));
	if (in_redis)
		shared_api_key_put(lk->version, digest, who, until);
}

IdentityStatus
identity_result(HttpRequest *req, IdentityLookup *lk, Identity *out,
				HttpHandler complete)
{
	const DbCallResult *r;
	json_t	   *k;
	bool		ok;

	if (lk->step == 1)
	{
		if (!shared_api_key_result(req, out))
			return identity_ask_database(req, lk, complete);
		identity_keep(req, lk, out, false);
		return IDENTITY_OK;
	}
	r = dbcall_result(req);
	if (r->unavailable)
		return IDENTITY_UNAVAILABLE;
	if (strncmp(r->sqlstate, "WT", 2) == 0)
		return IDENTITY_INVALID;
	if (r->sqlstate[0] != '\0' || r->value == NULL ||
		(k = json_loads(r->value, 0, NULL)) == NULL)
	{
		log_write(LOG_LEVEL_ERROR, "API key lookup failed in the database",
				  "{s:s, s:s}", "sqlstate", r->sqlstate, "request_id", http_request_id(req));
		return IDENTITY_UNAVAILABLE;
	}
	ok = identity_from_key(k, out);
	json_decref(k);
	if (!ok)
		return IDENTITY_INVALID;
	identity_keep(req, lk, out, true);
	return IDENTITY_OK;
}

bool
identity_scopes_literal(const Identity *who, char *out, size_t outsize,
						const char **param)
{
	const char *p = who->scope;
	size_t		n = 0;

	*param = NULL;
	if (!who->has_scope)
		return true;
#define PUT(c) do { if (n + 1 >= outsize) return false; out[n++] = (c); } while (0)
	PUT('{');
	while (*p != '\0')
	{
		size_t		len = strcspn(p, " ");

		if (len > 0)
		{
			if (out[n - 1] != '{')
				PUT(',');
			PUT('"');
			for (size_t i = 0; i < len; i++)
			{
				if (p[i] == '"' || p[i] == '\\')
					PUT('\\');
				PUT(p[i]);
			}
			PUT('"');
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	PUT('}');
#undef PUT
	out[n] = '\0';
	*param = out;
	return true;
}
