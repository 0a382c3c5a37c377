/*
 * apikeys.c
 *		API keys of service accounts: warden.verify_api_key() and
 *		warden.client_credentials(), served from a per-backend cache.
 *
 * A key is wdn_<prefix>_<secret>: the prefix (12 lower-case letters and
 * digits, public) names the row, the SHA-256 digest of the whole key is
 * stored and compared in constant time. Both functions are hot paths of the
 * edge, so a key's row, its service account and that account's roles are
 * read once and kept until a change of api_keys, principals, bindings,
 * roles or group_members commits (see cache.c). Issuing a token for a key
 * then costs the RSA signature and little else: the call writes nothing
 * but, once a minute per key, its last use; its audit event goes through
 * the failure writer's queue (failures.c).
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "warden.h"

#define PREFIX_LEN 12
#define SECRET_LEN 43
#define KEY_LEN (4 + PREFIX_LEN + 1 + SECRET_LEN)
#define LAST_USE_GRANULARITY ((int64) 60 * USECS_PER_SEC)

typedef struct ApiKey
{
	char		prefix[PREFIX_LEN + 1];	/* hash key */
	int64		key_id;
	uint8		digest[32];
	bool		revoked;
	TimestampTz expires_at;		/* DT_NOEND: never */
	TimestampTz last_used_at;	/* 0: never */
	bool		enabled;
	int64		principal_id;
	char	   *principal;
	char	   *tenant;			/* NULL: none */
	char	  **scopes;
	int			nscopes;
	char	   *scope;			/* space-separated, NULL when no scopes */
	char	  **roles;
	int			nroles;
	TimestampTz valid_after;	/* 0: none */
} ApiKey;

static const char *const key_tables[] = {
	"api_keys", "principals", "bindings", "roles", "group_members"
};

static HTAB *key_cache = NULL;
static MemoryContext key_cxt = NULL;
static bool key_cache_valid = false;
static SPIPlanPtr key_plan = NULL;
static SPIPlanPtr touch_plan = NULL;

static HTAB *
key_cache_table(void)
{
	if (!key_cache_valid || key_cache == NULL)
		key_cache = warden_cache_table("warden API key cache", &key_cxt,
									   key_tables, lengthof(key_tables),
									   &key_cache_valid, PREFIX_LEN + 1,
									   sizeof(ApiKey), 64, HASH_STRINGS);
	return key_cache;
}

/* The prefix of a well-formed key, or false. */
static bool
key_prefix(const char *key, int len, char prefix[PREFIX_LEN + 1])
{
	int			i;

	if (len != KEY_LEN || memcmp(key, "wdn_", 4) != 0 || key[4 + PREFIX_LEN] != '_')
		return false;
	for (i = 0; i < PREFIX_LEN; i++)
	{
		char		c = key[4 + i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	for (i = 4 + PREFIX_LEN + 1; i < KEY_LEN; i++)
	{
		char		c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	memcpy(prefix, key + 4, PREFIX_LEN);
	prefix[PREFIX_LEN] = '\0';
	return true;
}

static char **
text_array_copy(Datum d, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int			i;
	char	  **out;

	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &count);
	out = MemoryContextAllocZero(key_cxt, sizeof(char *) * (count + 1));
	*n = 0;
	for (i = 0; i < count; i++)
		if (!nulls[i])
			out[(*n)++] = MemoryContextStrdup(key_cxt,
											  TextDatumGetCString(elems[i]));
	return out;
}

/* Reads a key's row, account and roles into the cache; NULL if unknown. */
static ApiKey *
key_load(const char *prefix)
{
	Datum		arg = CStringGetTextDatum(prefix);
	ApiKey	   *k = NULL;
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (key_plan == NULL)
	{
		Oid			types[1] = {TEXTOID};
		SPIPlanPtr	plan = SPI_prepare(
									   "SELECT k.id, k.key_hash, k.revoked_at IS NOT NULL, k.expires_at, "
									   "       k.scopes, k.last_used_at, p.id, p.name, p.tenant, p.enabled, "
									   "       p.tokens_valid_after, warden.principal_roles(p.name) "
									   "  FROM warden.api_keys k JOIN warden.principals p ON p.id = k.principal_id "
									   " WHERE k.prefix = $1",
									   1, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the API key query");
		key_plan = plan;
	}
	ret = SPI_execute_plan(key_plan, &arg, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "API key query failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		bytea	   *digest;
		bool		found;

		k = hash_search(key_cache_table(), prefix, HASH_ENTER, &found);
		k->key_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		digest = DatumGetByteaPP(SPI_getbinval(tup, desc, 2, &isnull));
		memset(k->digest, 0, sizeof(k->digest));
		if (VARSIZE_ANY_EXHDR(digest) == sizeof(k->digest))
			memcpy(k->digest, VARDATA_ANY(digest), sizeof(k->digest));
		k->revoked = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull)) ||
			VARSIZE_ANY_EXHDR(digest) != sizeof(k->digest);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		k->expires_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
		k->scopes = text_array_copy(SPI_getbinval(tup, desc, 5, &isnull),
									&k->nscopes);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		k->last_used_at = isnull ? 0 : DatumGetTimestampTz(d);
		k->principal_id = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		k->principal = MemoryContextStrdup(key_cxt, SPI_getvalue(tup, desc, 8));
		d = SPI_getbinval(tup, desc, 9, &isnull);
		k->tenant = isnull ? NULL :
			MemoryContextStrdup(key_cxt, TextDatumGetCString(d));
		k->enabled = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		d = SPI_getbinval(tup, desc, 11, &isnull);
		k->valid_after = isnull ? 0 : DatumGetTimestampTz(d);
		k->roles = text_array_copy(SPI_getbinval(tup, desc, 12, &isnull),
								   &k->nroles);
		if (k->nscopes > 0)
		{
			StringInfoData buf;
			int			i;

			initStringInfo(&buf);
			for (i = 0; i < k->nscopes; i++)
				appendStringInfo(&buf, "%s%s", i ? " " : "", k->scopes[i]);
			k->scope = MemoryContextStrdup(key_cxt, buf.data);
		}
		else
			k->scope = NULL;
	}
	SPI_finish();
	return k;
}

/* Records the last use, at most once a minute per key and backend. */
static void
key_touch(ApiKey *k)
{
	TimestampTz now = GetCurrentTimestamp();
	Datum		arg = Int64GetDatum(k->key_id);

	if (k->last_used_at != 0 && now - k->last_used_at < LAST_USE_GRANULARITY)
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (touch_plan == NULL)
	{
		Oid			types[1] = {INT8OID};
		SPIPlanPtr	plan = SPI_prepare("UPDATE warden.api_keys SET last_used_at = now() "
									   " WHERE id = $1 AND (last_used_at IS NULL "
									   "   OR last_used_at < now() - interval '1 minute')",
									   1, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the API key update");
		touch_plan = plan;
	}
	if (SPI_execute_plan(touch_plan, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record an API key's use");
	SPI_finish();
	k->last_used_at = now;
}

/*
 * The cached key for a presented key, after every check; a failure is
 * audited (through the failure writer) and raised as WT301.
 */
static ApiKey *
key_authenticate(text *key)
{
	const char *data = VARDATA_ANY(key);
	int			len = VARSIZE_ANY_EXHDR(key);
	char		prefix[PREFIX_LEN + 1];
	uint8		digest[32];
	unsigned int dlen = 0;
	ApiKey	   *k = NULL;
	const char *reason = "invalid_api_key";

	if (key_prefix(data, len, prefix))
	{
		k = hash_search(key_cache_table(), prefix, HASH_FIND, NULL);
		if (k == NULL)
			k = key_load(prefix);
	}
	if (k != NULL &&
		(!EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) ||
		 dlen != sizeof(digest) ||
		 CRYPTO_memcmp(digest, k->digest, sizeof(digest)) != 0 ||
		 k->revoked || k->expires_at <= GetCurrentTransactionStartTimestamp()))
		k = NULL;
	else if (k != NULL && !k->enabled)
		reason = "disabled";
	if (k == NULL || !k->enabled)
	{
		if (k == NULL)
			warden_login_failure(0, key_prefix(data, len, prefix) ? prefix : "",
								 reason, false);
		else
			warden_login_failure(k->principal_id, k->principal, reason, false);
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_API_KEY_INVALID),
				 errmsg("invalid API key")));
	}
	key_touch(k);
	return k;
}

PG_FUNCTION_INFO_V1(warden_verify_api_key);

/*
 * warden.verify_api_key(key text) returns jsonb:
 * {service_account, tenant, scopes, prefix, expires_at}
 */
Datum
warden_verify_api_key(PG_FUNCTION_ARGS)
{
	ApiKey	   *k = key_authenticate(PG_GETARG_TEXT_PP(0));
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"service_account\":");
	escape_json(&buf, k->principal);
	if (k->tenant != NULL)
	{
		appendStringInfoString(&buf, ",\"tenant\":");
		escape_json(&buf, k->tenant);
	}
	appendStringInfoString(&buf, ",\"scopes\":[");
	for (i = 0; i < k->nscopes; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, k->scopes[i]);
	}
	appendStringInfoString(&buf, "],\"prefix\":");
	escape_json(&buf, k->prefix);
	if (k->expires_at != DT_NOEND)
	{
		char		ts[MAXDATELEN + 1];

		appendStringInfoString(&buf, ",\"expires_at\":");
		escape_json(&buf, JsonEncodeDateTime(ts, TimestampTzGetDatum(k->expires_at),
											 TIMESTAMPTZOID, NULL));
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

PG_FUNCTION_INFO_V1(warden_client_credentials);

/*
 * warden.client_credentials(api_key text) returns warden.token_response:
 * an access token for the key's service account, with the key's scopes
 * (when it has any) and the account's roles; no refresh token.
 */
Datum
warden_client_credentials(PG_FUNCTION_ARGS)
{
	ApiKey	   *k = key_authenticate(PG_GETARG_TEXT_PP(0));
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, true, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = PointerGetDatum(warden_sign_access_token(k->principal, k->tenant,
														 NULL, 0, k->scope,
														 k->valid_after, NULL,
														 k->roles, k->nroles));
	values[1] = (Datum) 0;
	values[2] = Int32GetDatum(warden_access_token_ttl);
	values[3] = CStringGetTextDatum("Bearer");
	warden_audit_async("client_credentials", k->principal, k->prefix);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}
