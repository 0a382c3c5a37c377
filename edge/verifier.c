/*
 * verifier.c
 *		Access tokens verified in the edge (see verifier.h).
 *
 * Locking: verifier_lock (a reader-writer lock) guards every static below
 * but the token cache (thread-safe itself) and the counters (atomic). A
 * verification holds it shared for the signature check, so a key is never
 * freed under a reader; loads and notifications hold it exclusively for a
 * few hash-table operations (a load swaps in state built outside it).
 */
#include "verifier.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "hex.h"
#include "hmap.h"
#include "jwk.h"
#include "jwt.h"
#include "lcache.h"

#define VERIFIER_KID_MAX 128
#define VERIFIER_ISSUER_MAX 256
/* a few thousand revocations between sweeps of the expired ones */
#define VERIFIER_PRUNE_EVERY 4096

typedef struct VerifyKey
{
	char		kid[VERIFIER_KID_MAX + 1];
	EVP_PKEY   *pub;
	int64_t		verify_until;	/* 0: while the key is active */
} VerifyKey;

typedef struct PrincipalState
{
	bool		enabled;
	int64_t		valid_after;	/* INT64_MIN: none */
} PrincipalState;

/* What the token cache keeps of a verified token. */
typedef struct CachedToken
{
	double		exp;
	double		iat;
	unsigned char jti[16];
	bool		has_scope;
	uint16_t	subject_len;
	uint16_t	tenant_len;
	uint16_t	scope_len;
	char		text[];			/* subject, tenant, scope; no terminators */
} CachedToken;

#define CACHED_TOKEN_MAX (sizeof(CachedToken) + 2 * IDENTITY_NAME_MAX + IDENTITY_SCOPE_MAX)

static pthread_rwlock_t verifier_lock = PTHREAD_RWLOCK_INITIALIZER;
static bool verifier_loaded;
static VerifyKey *verifier_keys;
static size_t verifier_nkeys;
static char verifier_issuer[VERIFIER_ISSUER_MAX + 1];
static char verifier_audience[VERIFIER_ISSUER_MAX + 1];
static int64_t verifier_leeway;
static size_t verifier_max_size;
static HMap *verifier_revoked;	/* jti (16 bytes) -> exp (int64_t) */
static HMap *verifier_principals;	/* name -> PrincipalState */
static uint64_t verifier_generation;	/* the token cache's, one per load */
static unsigned verifier_revocations;	/* since the last sweep */

static LCache *verifier_tokens;
static atomic_uint_fast64_t verifier_ok;
static atomic_uint_fast64_t verifier_invalid;

bool
verifier_init(size_t cache_entries)
{
	verifier_tokens = lcache_new(cache_entries);
	verifier_revoked = hmap_new(sizeof(int64_t));
	verifier_principals = hmap_new(sizeof(PrincipalState));
	if (verifier_tokens == NULL || verifier_revoked == NULL ||
		verifier_principals == NULL)
	{
		verifier_shutdown();
		return false;
	}
	return true;
}

static void
verifier_keys_free(VerifyKey *keys, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		EVP_PKEY_free(keys[i].pub);
	free(keys);
}

void
verifier_shutdown(void)
{
	pthread_rwlock_wrlock(&verifier_lock);
	verifier_keys_free(verifier_keys, verifier_nkeys);
	verifier_keys = NULL;
	verifier_nkeys = 0;
	hmap_free(verifier_revoked);
	hmap_free(verifier_principals);
	verifier_revoked = verifier_principals = NULL;
	verifier_loaded = false;
	pthread_rwlock_unlock(&verifier_lock);
	lcache_free(verifier_tokens);
	verifier_tokens = NULL;
}

static int64_t
verifier_now(void)
{
	return (int64_t) time(NULL);
}

/* A canonical UUID, either case, as warden.verify() reads jti. */
static bool
verifier_parse_uuid(const char *s, unsigned char out[16])
{
	int			i;

	if (s == NULL || strlen(s) != 36)
		return false;
	for (i = 0; i < 16; i++)
	{
		const char *p = s + 2 * i + (i >= 4) + (i >= 6) + (i >= 8) + (i >= 10);
		int			hi = hex_nibble(p[0]);
		int			lo = hex_nibble(p[1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char) (hi << 4 | lo);
	}
	return s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-';
}

/* jwt_key_lookup: the keys warden.verify() accepts at *arg (Unix time). */
static EVP_PKEY *
verifier_lookup(void *arg, const char *kid)
{
	int64_t		now = *(int64_t *) arg;
	size_t		i;

	for (i = 0; i < verifier_nkeys; i++)
		if (strcmp(verifier_keys[i].kid, kid) == 0)
			return verifier_keys[i].verify_until == 0 ||
				verifier_keys[i].verify_until > now ? verifier_keys[i].pub : NULL;
	return NULL;
}

/* Revoked by id, by a disabled principal, or by a revoke_all? Lock held. */
static bool
verifier_revoked_locked(const unsigned char jti[16], const char *subject,
						size_t subject_len, double iat)
{
	const PrincipalState *ps;

	if (hmap_get(verifier_revoked, jti, 16) != NULL)
		return true;
	ps = hmap_get(verifier_principals, subject, subject_len);
	return ps != NULL && (!ps->enabled || iat < (double) ps->valid_after);
}

static bool
verifier_copy(char *dst, size_t dstsize, const char *src, size_t len)
{
	if (len >= dstsize)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

static void
verifier_unpack(const CachedToken *c, Identity *out)
{
	memset(out, 0, sizeof(*out));
	verifier_copy(out->subject, sizeof(out->subject), c->text, c->subject_len);
	verifier_copy(out->tenant, sizeof(out->tenant), c->text + c->subject_len,
				  c->tenant_len);
	out->has_scope = c->has_scope;
	verifier_copy(out->scope, sizeof(out->scope),
				  c->text + c->subject_len + c->tenant_len, c->scope_len);
	out->expires = (int64_t) c->exp;
}

/*
 * The claims of a token whose signature and claims verified, packed for
 * the cache; false when they do not fit an Identity (then the token is
 * refused: no token warden issues comes near these sizes).
 */
static bool
verifier_pack(const json_t *claims, CachedToken *c)
{
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const json_t *tenant = json_object_get(claims, "tenant");
	const json_t *scope = json_object_get(claims, "scope");
	size_t		sl;
	size_t		tl = 0;
	size_t		pl = 0;

	if (!verifier_parse_uuid(json_string_value(json_object_get(claims, "jti")), c->jti))
		return false;
	if (sub == NULL || (sl = strlen(sub)) == 0 || sl > IDENTITY_NAME_MAX)
		return false;
	if (tenant != NULL && !json_is_null(tenant) &&
		(!json_is_string(tenant) || (tl = json_string_length(tenant)) > IDENTITY_NAME_MAX))
		return false;
	if (scope != NULL && !json_is_null(scope) &&
		(!json_is_string(scope) || (pl = json_string_length(scope)) > IDENTITY_SCOPE_MAX))
		return false;
	c->exp = json_number_value(json_object_get(claims, "exp"));
	c->iat = json_number_value(json_object_get(claims, "iat"));
	c->has_scope = json_is_string(scope);
	c->subject_len = (uint16_t) sl;
	c->tenant_len = (uint16_t) tl;
	c->scope_len = (uint16_t) pl;
	memcpy(c->text, sub, sl);
	if (tl > 0)
		memcpy(c->text + sl, json_string_value(tenant), tl);
	if (pl > 0)
		memcpy(c->text + sl + tl, json_string_value(scope), pl);
	return true;
}

static VerifyStatus
verifier_count(VerifyStatus st)
{
	if (st == VERIFY_OK)
		atomic_fetch_add(&verifier_ok, 1);
	else if (st == VERIFY_INVALID)
		atomic_fetch_add(&verifier_invalid, 1);
	return st;
}

VerifyStatus
verifier_verify(const char *token, size_t len, Identity *out)
{
	unsigned char digest[DIGEST_SHA256_LEN];
	_Alignas(8) char bytes[CACHED_TOKEN_MAX];
	CachedToken *c = (CachedToken *) bytes;
	int64_t		now = verifier_now();
	uint64_t	generation;
	jwt_policy	policy;
	jwt_token	t;
	jwt_status	st;
	long		got;
	bool		packed;
	bool		revoked;

	pthread_rwlock_rdlock(&verifier_lock);
	if (!verifier_loaded)
	{
		pthread_rwlock_unlock(&verifier_lock);
		return VERIFY_NOT_READY;
	}
	if (len > verifier_max_size)
	{
		pthread_rwlock_unlock(&verifier_lock);
		return verifier_count(VERIFY_INVALID);
	}
	generation = verifier_generation;
	if (!digest_sha256(token, len, NULL, 0, digest))
	{
		pthread_rwlock_unlock(&verifier_lock);
		return verifier_count(VERIFY_INVALID);
	}
	got = lcache_get(verifier_tokens, digest, sizeof(digest), generation, now,
					 bytes, sizeof(bytes));
	if (got >= 0)
	{
		/* jwt_check_claims's rule for exp, for a token that passed it */
		bool		valid = c->exp > (double) (now - verifier_leeway) &&
			!verifier_revoked_locked(c->jti, c->text, c->subject_len,
									 c->iat);

		pthread_rwlock_unlock(&verifier_lock);
		if (!valid)
			return verifier_count(VERIFY_INVALID);
		verifier_unpack(c, out);
		return verifier_count(VERIFY_OK);
	}

	policy.issuer = verifier_issuer;
	policy.audience = verifier_audience;
	policy.now = now;
	policy.leeway = verifier_leeway;
	policy.require_jti = true;
	st = jwt_verify(token, len, verifier_max_size, verifier_lookup, &now,
					&policy, &t);
	if (st != JWT_OK)
	{
		pthread_rwlock_unlock(&verifier_lock);
		return verifier_count(VERIFY_INVALID);
	}
	packed = verifier_pack(t.claims, c);
	jwt_token_free(&t);
	revoked = !packed || verifier_revoked_locked(c->jti, c->text,
												 c->subject_len, c->iat);
	pthread_rwlock_unlock(&verifier_lock);
	if (revoked)
		return verifier_count(VERIFY_INVALID);
	/* kept until it expires; a failed put only costs a later signature check */
	(void) lcache_put(verifier_tokens, digest, sizeof(digest), generation, now,
					  (int64_t) c->exp + verifier_leeway, bytes,
					  sizeof(CachedToken) + c->subject_len + c->tenant_len +
					  c->scope_len);
	verifier_unpack(c, out);
	return verifier_count(VERIFY_OK);
}

/* --- state ------------------------------------------------------------------ */

static bool
verifier_error(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "edge state: %s", what);
	return false;
}

static bool
verifier_load_keys(const json_t *array, VerifyKey **out, size_t *n,
				   char *err, size_t errlen)
{
	size_t		i;
	json_t	   *k;
	VerifyKey  *keys;

	*out = NULL;
	*n = 0;
	if (!json_is_array(array))
		return verifier_error(err, errlen, "keys is not an array");
	keys = calloc(json_array_size(array) + 1, sizeof(VerifyKey));
	if (keys == NULL)
		return verifier_error(err, errlen, "out of memory");
	json_array_foreach(array, i, k)
	{
		const json_t *jwk = json_object_get(k, "jwk");
		const char *kid = json_string_value(json_object_get(jwk, "kid"));
		jwk_status st;

		if (kid == NULL || strlen(kid) > VERIFIER_KID_MAX)
		{
			verifier_keys_free(keys, i);
			return verifier_error(err, errlen, "a key without a usable kid");
		}
		st = jwk_to_public_key(jwk, &keys[i].pub);
		if (st != JWK_OK)
		{
			verifier_keys_free(keys, i);
			snprintf(err, errlen, "edge state: key %s: %s", kid, jwk_strerror(st));
			return false;
		}
		strcpy(keys[i].kid, kid);
		keys[i].verify_until = json_integer_value(json_object_get(k, "verify_until"));
	}
	*out = keys;
	*n = json_array_size(array);
	return true;
}

static bool
verifier_load_revoked(const json_t *array, HMap *map)
{
	size_t		i;
	json_t	   *r;

	json_array_foreach(array, i, r)
	{
		unsigned char jti[16];
		int64_t		exp = json_integer_value(json_array_get(r, 1));

		if (verifier_parse_uuid(json_string_value(json_array_get(r, 0)), jti) &&
			!hmap_put(map, jti, sizeof(jti), &exp))
			return false;
	}
	return true;
}

static bool
verifier_load_principals(const json_t *array, HMap *map)
{
	size_t		i;
	json_t	   *p;

	json_array_foreach(array, i, p)
	{
		const char *name = json_string_value(json_array_get(p, 0));
		const json_t *va = json_array_get(p, 2);
		PrincipalState ps;

		if (name == NULL)
			continue;
		ps.enabled = json_is_true(json_array_get(p, 1));
		ps.valid_after = json_is_integer(va) ? json_integer_value(va) : INT64_MIN;
		if (!hmap_put(map, name, strlen(name), &ps))
			return false;
	}
	return true;
}

bool
verifier_load(const json_t *state, char *err, size_t errlen)
{
	const char *issuer = json_string_value(json_object_get(state, "issuer"));
	const char *audience = json_string_value(json_object_get(state, "audience"));
	json_int_t	leeway = json_integer_value(json_object_get(state, "leeway"));
	json_int_t	max_size = json_integer_value(json_object_get(state, "max_token_size"));
	VerifyKey  *keys;
	size_t		nkeys;
	HMap	   *revoked;
	HMap	   *principals;

	if (issuer == NULL || audience == NULL || strlen(issuer) > VERIFIER_ISSUER_MAX ||
		strlen(audience) > VERIFIER_ISSUER_MAX)
		return verifier_error(err, errlen, "issuer or audience missing or too long");
	if (leeway < 0 || max_size <= 0 || !json_is_array(json_object_get(state, "revoked")) ||
		!json_is_array(json_object_get(state, "principals")))
		return verifier_error(err, errlen, "malformed");
	if (!verifier_load_keys(json_object_get(state, "keys"), &keys, &nkeys, err, errlen))
		return false;
	revoked = hmap_new(sizeof(int64_t));
	principals = hmap_new(sizeof(PrincipalState));
	if (revoked == NULL || principals == NULL ||
		!verifier_load_revoked(json_object_get(state, "revoked"), revoked) ||
		!verifier_load_principals(json_object_get(state, "principals"), principals))
	{
		hmap_free(revoked);
		hmap_free(principals);
		verifier_keys_free(keys, nkeys);
		return verifier_error(err, errlen, "out of memory");
	}

	pthread_rwlock_wrlock(&verifier_lock);
	verifier_keys_free(verifier_keys, verifier_nkeys);
	verifier_keys = keys;
	verifier_nkeys = nkeys;
	hmap_free(verifier_revoked);
	hmap_free(verifier_principals);
	verifier_revoked = revoked;
	verifier_principals = principals;
	strcpy(verifier_issuer, issuer);
	strcpy(verifier_audience, audience);
	verifier_leeway = leeway;
	verifier_max_size = (size_t) max_size;
	/* tokens verified with keys or settings that may be gone */
	verifier_generation++;
	verifier_loaded = true;
	pthread_rwlock_unlock(&verifier_lock);
	return true;
}

static bool
verifier_expired(const void *value, void *arg)
{
	return *(const int64_t *) value < *(const int64_t *) arg;
}

void
verifier_revoke(const char *jti, int64_t exp)
{
	unsigned char id[16];

	if (!verifier_parse_uuid(jti, id))
		return;
	pthread_rwlock_wrlock(&verifier_lock);
	if (verifier_revoked != NULL)
	{
		/*
		 * Out of memory here would let a revoked token pass: fail closed,
		 * verifying nothing until the listener's next load.
		 */
		if (!hmap_put(verifier_revoked, id, sizeof(id), &exp))
			verifier_loaded = false;
		if (++verifier_revocations >= VERIFIER_PRUNE_EVERY)
		{
			int64_t		before = verifier_now() - verifier_leeway;

			hmap_delete_if(verifier_revoked, verifier_expired, &before);
			verifier_revocations = 0;
		}
	}
	pthread_rwlock_unlock(&verifier_lock);
}

void
verifier_principal(const char *name, bool enabled, int64_t valid_after)
{
	PrincipalState ps = {enabled, valid_after};

	pthread_rwlock_wrlock(&verifier_lock);
	if (verifier_principals != NULL)
	{
		if (enabled && valid_after == INT64_MIN)
			hmap_delete(verifier_principals, name, strlen(name));
		else if (!hmap_put(verifier_principals, name, strlen(name), &ps))
			verifier_loaded = false;	/* as in verifier_revoke */
	}
	pthread_rwlock_unlock(&verifier_lock);
}

bool
verifier_ready(void)
{
	bool		ready;

	pthread_rwlock_rdlock(&verifier_lock);
	ready = verifier_loaded;
	pthread_rwlock_unlock(&verifier_lock);
	return ready;
}

void
verifier_unload(void)
{
	pthread_rwlock_wrlock(&verifier_lock);
	verifier_loaded = false;
	pthread_rwlock_unlock(&verifier_lock);
}

void
verifier_stats(VerifierStats *out)
{
	out->ok = atomic_load(&verifier_ok);
	out->invalid = atomic_load(&verifier_invalid);
	lcache_stats(verifier_tokens, &out->cache_hits, &out->cache_misses);
	pthread_rwlock_rdlock(&verifier_lock);
	out->keys = verifier_nkeys;
	out->revoked = verifier_revoked != NULL ? hmap_count(verifier_revoked) : 0;
	pthread_rwlock_unlock(&verifier_lock);
}
