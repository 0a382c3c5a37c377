/*
 * authz.c
 *		warden.check(): authorization decisions with a per-backend cache, and
 *		the request identity settings warden.principal and warden.claims.
 *
 * A decision (principal, permission, resource) is computed once by
 * warden._decide() on a plan prepared once per backend, then served from a
 * hash table in process memory with no SPI call at all. The table is
 * dropped whenever a change of any policy table commits (see cache.c), and
 * each entry also carries the moment its grant expires, so an expiring
 * binding stops allowing on time without any change.
 *
 * Narrowing by scopes (an API key's) is applied after the cache: a cached
 * decision is about roles, the scopes only take permissions away.
 *
 * warden.principal and warden.claims are transaction-local settings the
 * edge sets (SET LOCAL) before switching to the application's role; only
 * members of warden_auth (and superusers) may set them, so code running as
 * the application's role cannot pose as another principal.
 */
#include "postgres.h"

#include "jansson_pg.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "warden.h"

#define KEY_MAX 1600			/* principal, permission and resource */
#define SCOPES_MAX 64

typedef struct Decision
{
	uint64		hash;			/* hash key */
	char	   *key;			/* principal \x1f permission \x1f resource */
	int			keylen;
	bool		allowed;
	TimestampTz until;			/* allowed until then */
} Decision;

static const char *const policy_tables[] = {
	"roles", "role_inherits", "role_permissions", "group_members",
	"bindings", "denies", "resource_parents", "principals"
};

static HTAB *decisions = NULL;
static MemoryContext decision_cxt = NULL;
static bool decisions_valid = false;
static SPIPlanPtr decide_plan = NULL;

int			warden_check_cache_size = 65536;
char	   *warden_principal = NULL;
char	   *warden_claims = NULL;

/* the scope claim of warden.claims, parsed once per distinct value */
static char *claims_seen = NULL;
static char claims_sub[257];
static bool claims_have_scopes = false;
static int	claims_nscopes = 0;
static char *claims_scopes[SCOPES_MAX];

static HTAB *
decisions_table(void)
{
	if (!decisions_valid || decisions == NULL ||
		hash_get_num_entries(decisions) >= warden_check_cache_size)
		decisions = warden_cache_table("warden decision cache", &decision_cxt,
									   policy_tables, lengthof(policy_tables),
									   &decisions_valid, sizeof(uint64),
									   sizeof(Decision), 1024, HASH_BLOBS);
	return decisions;
}

/* Splits type:action; false when malformed. */
static bool
permission_split(const char *perm, int len, int *colon)
{
	int			i;
	int			c = -1;

	for (i = 0; i < len; i++)
	{
		char		ch = perm[i];

		if (ch == ':')
		{
			if (c >= 0)
				return false;
			c = i;
		}
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				   (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
				   ch == '-' || ch == '*'))
			return false;
	}
	if (c <= 0 || c == len - 1)
		return false;
	*colon = c;
	return true;
}

static bool
part_matches(const char *pat, int patlen, const char *s, int slen)
{
	return (patlen == 1 && pat[0] == '*') ||
		(patlen == slen && memcmp(pat, s, slen) == 0);
}

/* Does the pattern (type:action, * for either part) cover the permission? */
static bool
permission_covers(const char *pat, const char *perm, int permlen, int colon)
{
	const char *pc = strchr(pat, ':');

	if (pc == NULL)
		return false;
	return part_matches(pat, (int) (pc - pat), perm, colon) &&
		part_matches(pc + 1, (int) strlen(pc + 1), perm + colon + 1,
					 permlen - colon - 1);
}

/*
 * Parses warden.claims when it changed. Never throws while jansson objects
 * are live.
 */
static void
claims_refresh(void)
{
	json_t	   *claims;
	json_t	   *scope;
	const char *sub;
	int			i;

	if (warden_claims == NULL || warden_claims[0] == '\0')
	{
		claims_have_scopes = false;
		claims_sub[0] = '\0';
		return;
	}
	if (claims_seen != NULL && strcmp(claims_seen, warden_claims) == 0)
		return;

	if (claims_seen != NULL)
		pfree(claims_seen);
	claims_seen = MemoryContextStrdup(TopMemoryContext, warden_claims);
	for (i = 0; i < claims_nscopes; i++)
		pfree(claims_scopes[i]);
	claims_nscopes = 0;
	claims_have_scopes = false;
	claims_sub[0] = '\0';

	claims = json_loads(warden_claims, JSON_REJECT_DUPLICATES, NULL);
	sub = json_string_value(json_object_get(claims, "sub"));
	scope = json_object_get(claims, "scope");
	if (sub != NULL && strlen(sub) < sizeof(claims_sub))
		strlcpy(claims_sub, sub, sizeof(claims_sub));
	if (json_is_string(scope))
	{
		/* RFC 8693 scope: space-separated; copied with malloc'd jansson text */
		char	   *copy = strdup(json_string_value(scope));
		char	   *save = NULL;
		char	   *tok;

		claims_have_scopes = copy != NULL;
		for (tok = copy ? strtok_r(copy, " ", &save) : NULL;
			 tok != NULL && claims_nscopes < SCOPES_MAX;
			 tok = strtok_r(NULL, " ", &save))
		{
			char	   *s = malloc(strlen(tok) + 1);

			if (s == NULL)
				break;
			strcpy(s, tok);
			claims_scopes[claims_nscopes++] = s;
		}
		free(copy);
	}
	json_decref(claims);

	/* move the scopes into PostgreSQL memory now that nothing can leak */
	for (i = 0; i < claims_nscopes; i++)
	{
		char	   *s = claims_scopes[i];

		claims_scopes[i] = MemoryContextStrdup(TopMemoryContext, s);
		free(s);
	}
}

/* Computes a decision with warden._decide() on the prepared plan. */
static void
decide(text *principal, const char *perm, int permlen, int colon,
	   text *resource, bool *allowed, TimestampTz *until)
{
	Datum		values[4];
	bool		isnull;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (decide_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT allowed, allowed_until "
									   "  FROM warden._decide($1, $2, $3, $4)",
									   4, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the authorization query: %s",
				 SPI_result_code_string(SPI_result));
		decide_plan = plan;
	}
	values[0] = PointerGetDatum(principal);
	values[1] = PointerGetDatum(cstring_to_text_with_len(perm, colon));
	values[2] = PointerGetDatum(cstring_to_text_with_len(perm + colon + 1,
														 permlen - colon - 1));
	values[3] = PointerGetDatum(resource);
	ret = SPI_execute_plan(decide_plan, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "authorization query failed: %s",
			 SPI_result_code_string(ret));
	*allowed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		*allowed = false;
	*until = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2,
											   &isnull));
	if (isnull || !*allowed)
		*until = DT_NOEND;
	SPI_finish();
}

static bool
resource_valid(const char *r, int len)
{
	int			i;
	int			colon = -1;

	if (len < 3 || len > 1024)
		return false;
	/* the same rule as warden._resource(): type:id */
	for (i = 0; i < len; i++)
	{
		unsigned char ch = (unsigned char) r[i];

		if (ch <= ' ' || ch == 0x7f)
			return false;
		if (colon < 0)
		{
			if (ch == ':')
				colon = i;
			else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
					   (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
					   ch == '-'))
				return false;
		}
	}
	return colon > 0 && colon < len - 1;
}

PG_FUNCTION_INFO_V1(warden_check);

/*
 * warden.check(principal text, permission text, resource text,
 *				scopes text[] default null) returns boolean
 */
Datum
warden_check(PG_FUNCTION_ARGS)
{
	text	   *principal;
	text	   *permission;
	text	   *resource;
	const char *perm;
	int			plen;
	int			permlen;
	int			rlen;
	int			colon;
	char		key[KEY_MAX];
	int			keylen;
	uint64		hash;
	Decision   *d;
	bool		found;
	bool		allowed;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BOOL(false);
	principal = PG_GETARG_TEXT_PP(0);
	permission = PG_GETARG_TEXT_PP(1);
	resource = PG_GETARG_TEXT_PP(2);
	plen = VARSIZE_ANY_EXHDR(principal);
	permlen = VARSIZE_ANY_EXHDR(permission);
	rlen = VARSIZE_ANY_EXHDR(resource);
	perm = VARDATA_ANY(permission);

	if (!permission_split(perm, permlen, &colon))
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_MALFORMED_PERMISSION),
				 errmsg("malformed permission \"%.*s\"", Min(permlen, 200), perm),
				 errhint("A permission is resource_type:action, for example document:read.")));
	if (plen + permlen + rlen + 2 > KEY_MAX || plen == 0)
		PG_RETURN_BOOL(false);	/* no principal has such a name */

	memcpy(key, VARDATA_ANY(principal), plen);
	key[plen] = '\x1f';
	memcpy(key + plen + 1, perm, permlen);
	key[plen + 1 + permlen] = '\x1f';
	memcpy(key + plen + permlen + 2, VARDATA_ANY(resource), rlen);
	keylen = plen + permlen + rlen + 2;
	hash = hash_bytes_extended((const unsigned char *) key, keylen, 0);

	d = hash_search(decisions_table(), &hash, HASH_FIND, NULL);
	if (d == NULL || d->keylen != keylen || memcmp(d->key, key, keylen) != 0)
	{
		bool		ok;
		TimestampTz until;

		/*
		 * A new tuple, or one whose hash another tuple had. No entry is
		 * held across decide(): an invalidation arriving during its query
		 * may drop the whole table.
		 */
		if (!resource_valid(VARDATA_ANY(resource), rlen))
			ereport(ERROR,
					(errcode(ERRCODE_WARDEN_MALFORMED_RESOURCE),
					 errmsg("malformed resource \"%.*s\"", Min(rlen, 200),
							VARDATA_ANY(resource)),
					 errhint("A resource is type:id, for example document:42.")));
		decide(principal, perm, permlen, colon, resource, &ok, &until);

		d = hash_search(decisions_table(), &hash, HASH_ENTER, &found);
		if (found)
			pfree(d->key);
		d->key = MemoryContextAlloc(decision_cxt, keylen);
		memcpy(d->key, key, keylen);
		d->keylen = keylen;
		d->allowed = ok;
		d->until = until;
	}
	allowed = d->allowed && d->until > now;

	if (allowed)
	{
		ArrayType  *scopes = PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3);

		if (scopes != NULL)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int			i;

			deconstruct_array(scopes, TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			allowed = false;
			for (i = 0; i < n && !allowed; i++)
				if (!nulls[i])
					allowed = permission_covers(TextDatumGetCString(elems[i]),
												perm, permlen, colon);
		}
		else
		{
			claims_refresh();
			if (claims_have_scopes &&
				(int) strlen(claims_sub) == plen &&
				memcmp(claims_sub, VARDATA_ANY(principal), plen) == 0)
			{
				int			i;

				allowed = false;
				for (i = 0; i < claims_nscopes && !allowed; i++)
					allowed = permission_covers(claims_scopes[i], perm,
												permlen, colon);
			}
		}
	}
	PG_RETURN_BOOL(allowed);
}

PG_FUNCTION_INFO_V1(warden_current_principal);

/* warden.current_principal() returns text: warden.principal, or NULL. */
Datum
warden_current_principal(PG_FUNCTION_ARGS)
{
	if (warden_principal == NULL || warden_principal[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(warden_principal));
}

/*
 * Check hook of warden.principal and warden.claims: only superusers and
 * members of warden_auth may set them, inside a transaction (SET LOCAL).
 * Resetting to empty is always allowed.
 */
bool
warden_check_identity_setting(char **newval, void **extra, GucSource source)
{
	Oid			auth;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (source < PGC_S_INTERACTIVE)
	{
		GUC_check_errmsg("warden request identity settings cannot be set in configuration files");
		return false;
	}
	if (!IsTransactionState())
	{
		GUC_check_errmsg("warden request identity settings can only be set in a transaction");
		return false;
	}
	if (superuser())
		return true;
	auth = get_role_oid("warden_auth", true);
	if (OidIsValid(auth) && has_privs_of_role(GetUserId(), auth))
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("only members of warden_auth may set warden's request identity");
	return false;
}
