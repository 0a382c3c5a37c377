/*
 * tokens.c
 *		Access tokens: issuance (RS256 JWTs) and warden.verify(), with the
 *		per-backend revocation cache.
 *
 * Verification must cost little more than the RSA signature check itself,
 * so it touches no table: keys come from the key cache (keys.c), and
 * revocations from two hash tables loaded here: the ids of revoked tokens
 * that have not yet expired, and the principals that are disabled or whose
 * tokens were all revoked (warden.revoke_all). Both reload when a change of
 * their table commits (cache.c), so a revocation takes effect in every
 * backend at once.
 *
 * Errors name the reason with its own SQLSTATE and never quote the token
 * or its claims.
 */
#include "postgres.h"

#include "jansson_pg.h"

#include <openssl/evp.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "b64url.h"
#include "hex.h"
#include "jwt.h"
#include "warden.h"

#define PRINCIPAL_NAME_MAX 256

typedef struct RevokedJti
{
	pg_uuid_t	jti;
} RevokedJti;

typedef struct PrincipalState
{
	char		name[PRINCIPAL_NAME_MAX + 1];
	bool		enabled;
	int64		valid_after;	/* tokens with iat below this are revoked */
} PrincipalState;

static HTAB *revoked_jtis = NULL;
static HTAB *principal_states = NULL;
static bool revoked_valid = false;
static bool principals_valid = false;

static TimestampTz
unix_to_timestamptz(int64 secs)
{
	return (TimestampTz) (secs - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
						  SECS_PER_DAY) * USECS_PER_SEC;
}

/*
 * The first whole second at or after t: tokens issued before a revoke_all
 * at t carry an iat below it.
 */
static int64
timestamptz_ceil_unix(TimestampTz t)
{
	int64		secs = warden_unix_time(t);

	return unix_to_timestamptz(secs) < t ? secs + 1 : secs;
}

static HTAB *
revocation_table(const char *name, Size keysize, Size entrysize, int flags)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = TopMemoryContext;
	return hash_create(name, 256, &ctl, HASH_ELEM | HASH_CONTEXT | flags);
}

/* See keys_load() for why the flag is set before reading. */
static void
revoked_load(void)
{
	uint64		i;
	int			ret;

	if (revoked_jtis != NULL)
		hash_destroy(revoked_jtis);
	revoked_jtis = NULL;
	warden_cache_watch("revoked_tokens", &revoked_valid);
	revoked_valid = true;
	PG_TRY();
	{
		revoked_jtis = revocation_table("warden revoked tokens",
										sizeof(pg_uuid_t), sizeof(RevokedJti),
										HASH_BLOBS);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute_with_args("SELECT jti FROM warden.revoked_tokens "
									"WHERE expires_at > now() - make_interval(secs => $1)",
									1, (Oid[]) {INT4OID},
									(Datum[]) {Int32GetDatum(warden_token_leeway)},
									NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read warden.revoked_tokens");
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				hash_search(revoked_jtis, DatumGetUUIDP(d), HASH_ENTER, NULL);
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		revoked_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void
principals_load(void)
{
	uint64		i;
	int			ret;

	if (principal_states != NULL)
		hash_destroy(principal_states);
	principal_states = NULL;
	warden_cache_watch("principals", &principals_valid);
	principals_valid = true;
	PG_TRY();
	{
		principal_states = revocation_table("warden principal states",
											PRINCIPAL_NAME_MAX + 1,
											sizeof(PrincipalState),
											HASH_STRINGS);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute("SELECT name, enabled, tokens_valid_after "
						  "  FROM warden.principals "
						  " WHERE NOT enabled OR tokens_valid_after IS NOT NULL",
						  false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read warden.principals");
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *name = SPI_getvalue(tup, desc, 1);
			bool		isnull;
			Datum		d;
			PrincipalState *ps;

			if (strlen(name) > PRINCIPAL_NAME_MAX)
				continue;		/* the table's CHECK forbids it */
			ps = hash_search(principal_states, name, HASH_ENTER, NULL);
			d = SPI_getbinval(tup, desc, 2, &isnull);
			ps->enabled = isnull || DatumGetBool(d);
			d = SPI_getbinval(tup, desc, 3, &isnull);
			ps->valid_after = isnull ? PG_INT64_MIN :
				timestamptz_ceil_unix(DatumGetTimestampTz(d));
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		principals_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void
revocations_prepare(void)
{
	if (!revoked_valid)
		revoked_load();
	if (!principals_valid)
		principals_load();
}

/*
 * Is the token with these claims revoked? Must not throw: the caller still
 * owns jansson objects.
 */
static bool
token_is_revoked(const json_t *claims)
{
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	json_t	   *iat = json_object_get(claims, "iat");
	pg_uuid_t	uuid;
	PrincipalState *ps;
	int			i;

	/* jti is a UUID in canonical form; anything else was never issued */
	if (jti == NULL || strlen(jti) != 36)
		return true;
	for (i = 0; i < UUID_LEN; i++)
	{
		const char *p = jti + 2 * i + (i >= 4) + (i >= 6) + (i >= 8) + (i >= 10);
		int			hi = hex_nibble(p[0]);
		int			lo = hex_nibble(p[1]);

		if (hi < 0 || lo < 0)
			return true;
		uuid.data[i] = (unsigned char) (hi << 4 | lo);
	}
	if (hash_search(revoked_jtis, &uuid, HASH_FIND, NULL) != NULL)
		return true;

	if (sub == NULL || strlen(sub) > PRINCIPAL_NAME_MAX)
		return true;
	ps = hash_search(principal_states, sub, HASH_FIND, NULL);
	if (ps != NULL)
	{
		if (!ps->enabled)
			return true;
		if (!json_is_number(iat) || json_number_value(iat) < ps->valid_after)
			return true;
	}
	return false;
}

/* Raises the error for a failed verification. */
static void
token_error(jwt_status st)
{
	int			code;

	switch (st)
	{
		case JWT_ERR_TOO_LARGE:
			code = ERRCODE_WARDEN_TOKEN_TOO_LARGE;
			break;
		case JWT_ERR_MALFORMED:
			code = ERRCODE_WARDEN_TOKEN_MALFORMED;
			break;
		case JWT_ERR_ALGORITHM:
		case JWT_ERR_CRIT:
		case JWT_ERR_TYPE:
		case JWT_ERR_KEY:
			code = ERRCODE_WARDEN_TOKEN_ALGORITHM;
			break;
		case JWT_ERR_UNKNOWN_KEY:
			code = ERRCODE_WARDEN_TOKEN_UNKNOWN_KEY;
			break;
		case JWT_ERR_SIGNATURE:
			code = ERRCODE_WARDEN_TOKEN_SIGNATURE;
			break;
		case JWT_ERR_EXPIRED:
			code = ERRCODE_WARDEN_TOKEN_EXPIRED;
			break;
		case JWT_ERR_NOT_YET_VALID:
			code = ERRCODE_WARDEN_TOKEN_NOT_YET_VALID;
			break;
		case JWT_ERR_ISSUER:
			code = ERRCODE_WARDEN_TOKEN_ISSUER;
			break;
		case JWT_ERR_AUDIENCE:
			code = ERRCODE_WARDEN_TOKEN_AUDIENCE;
			break;
		case JWT_ERR_CLAIMS:
			code = ERRCODE_WARDEN_TOKEN_CLAIMS;
			break;
		case JWT_ERR_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("invalid token: %s", jwt_strerror(st))));
}

/*
 * Verifies a token completely: signature, claims, revocation. Returns its
 * claims as JSON text (palloc'd, the payload as the token carries it, which
 * jsonb then normalises), or NULL for an expired token when allow_expired.
 */
static char *
token_verify(text *token, bool allow_expired)
{
	size_t		len = VARSIZE_ANY_EXHDR(token);
	const char *data = VARDATA_ANY(token);
	TimestampTz now = GetCurrentTimestamp();
	jwt_policy	policy;
	jwt_token	tok;
	jwt_status	st;
	bool		revoked;
	const char *p1;
	const char *p2;
	char	   *payload;
	size_t		plen;

	if (len > (size_t) warden_max_token_size)
		token_error(JWT_ERR_TOO_LARGE);
	warden_keys_prepare();
	revocations_prepare();

	policy.issuer = warden_issuer;
	policy.audience = warden_audience;
	policy.now = warden_unix_time(now);
	policy.leeway = warden_token_leeway;
	policy.require_jti = true;

	st = jwt_verify_prepared(data, len, warden_max_token_size,
							 warden_lookup_verify_key,
							 &now, &policy, &tok);
	if (st == JWT_ERR_EXPIRED && allow_expired)
		return NULL;
	if (st != JWT_OK)
		token_error(st);
	revoked = token_is_revoked(tok.claims);
	jwt_token_free(&tok);
	if (revoked)
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_TOKEN_REVOKED),
				 errmsg("invalid token: revoked")));

	/* the payload segment, which verification proved well-formed */
	p1 = memchr(data, '.', len);
	p2 = memchr(p1 + 1, '.', len - (p1 + 1 - data));
	payload = palloc(b64url_decoded_max(p2 - p1 - 1) + 1);
	if (b64url_decode(p1 + 1, p2 - p1 - 1, (unsigned char *) payload,
					  b64url_decoded_max(p2 - p1 - 1), &plen) != B64URL_OK)
		elog(ERROR, "verified token payload does not decode");
	payload[plen] = '\0';
	return payload;
}

PG_FUNCTION_INFO_V1(warden_verify);

/* warden.verify(access_token text) returns jsonb: the token's claims. */
Datum
warden_verify(PG_FUNCTION_ARGS)
{
	char	   *claims = token_verify(PG_GETARG_TEXT_PP(0), false);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
}

PG_FUNCTION_INFO_V1(warden_token_claims);

/*
 * warden._token_claims(token text) returns jsonb: like verify, but an
 * expired token gives NULL instead of an error, so that warden.revoke() can
 * tell "nothing left to revoke" from a forged token.
 */
Datum
warden_token_claims(PG_FUNCTION_ARGS)
{
	char	   *claims = token_verify(PG_GETARG_TEXT_PP(0), true);

	if (claims == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(claims)));
}

/* A random (version 4) UUID in canonical text form. */
static void
random_uuid_text(char out[37])
{
	unsigned char b[UUID_LEN];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
			 b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The non-null elements of a text[] argument as C strings; NULL array: none. */
static char **
text_array_arg(FunctionCallInfo fcinfo, int argno, int *n)
{
	Datum	   *datums;
	bool	   *nulls;
	char	  **out;
	int			count;
	int			i;

	*n = 0;
	if (PG_ARGISNULL(argno))
		return NULL;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), TEXTOID, -1, false,
					  TYPALIGN_INT, &datums, &nulls, &count);
	out = palloc0(sizeof(char *) * (count + 1));
	for (i = 0; i < count; i++)
		if (!nulls[i])
			out[(*n)++] = TextDatumGetCString(datums[i]);
	return out;
}

/*
 * Sets claims[name] to a JSON array of the strings, unless there are none.
 * Returns false when out of memory. Never throws.
 */
static bool
claims_set_strings(json_t *claims, const char *name, char **strs, int n)
{
	json_t	   *arr;
	int			i;

	if (n == 0)
		return true;
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, json_string(strs[i])) != 0)
		{
			json_decref(arr);
			arr = NULL;
		}
	return arr != NULL && json_object_set_new(claims, name, arr) == 0;
}

/*
 * Signs an access token for a principal that the caller has already
 * authenticated. jti NULL means a random one; valid_after 0 means none.
 * iat is never below the principal's valid_after second, so a token issued
 * right after revoke_all is valid.
 */
text *
warden_sign_access_token(const char *sub, const char *tenant,
						 char **amr, int namr, const char *scope,
						 TimestampTz valid_after, const char *jti_in,
						 char **roles, int nroles)
{
	int64		iat;
	char		jti[37];
	const char *kid;
	EVP_PKEY   *priv;
	json_t	   *claims;
	char		buf[JWT_MAX_LEN];
	size_t		len = 0;
	jwt_status	st = JWT_ERR_NOMEM;

	iat = warden_unix_time(GetCurrentTimestamp());
	if (valid_after != 0)
		iat = Max(iat, timestamptz_ceil_unix(valid_after));
	if (jti_in == NULL)
		random_uuid_text(jti);
	else
		strlcpy(jti, jti_in, sizeof(jti));
	priv = warden_signing_key(&kid);

	/* no ereport from here until the jansson objects are freed */
	claims = json_object();
	if (claims != NULL &&
		json_object_set_new(claims, "iss", json_string(warden_issuer)) == 0 &&
		json_object_set_new(claims, "aud", json_string(warden_audience)) == 0 &&
		json_object_set_new(claims, "sub", json_string(sub)) == 0 &&
		json_object_set_new(claims, "jti", json_string(jti)) == 0 &&
		json_object_set_new(claims, "iat", json_integer(iat)) == 0 &&
		json_object_set_new(claims, "exp",
							json_integer(iat + warden_access_token_ttl)) == 0 &&
		(tenant == NULL ||
		 json_object_set_new(claims, "tenant", json_string(tenant)) == 0) &&
		(scope == NULL ||
		 json_object_set_new(claims, "scope", json_string(scope)) == 0) &&
		claims_set_strings(claims, "roles", roles, nroles) &&
		claims_set_strings(claims, "amr", amr, namr))
		st = jwt_sign_rs256(priv, kid, claims, buf, sizeof(buf), &len);
	json_decref(claims);
	if (st != JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign access token: %s", jwt_strerror(st))));
	return cstring_to_text_with_len(buf, len);
}

PG_FUNCTION_INFO_V1(warden_access_token);

/*
 * warden._access_token(sub text, tenant text, amr text[], scope text,
 *						valid_after timestamptz, jti uuid, roles text[])
 *						returns text
 *
 * The caller chooses the jti (a random UUID) so that it can record which
 * refresh token the access token came with.
 */
Datum
warden_access_token(PG_FUNCTION_ARGS)
{
	char	  **amr;
	char	  **roles;
	int			namr;
	int			nroles;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subject must not be null")));
	amr = text_array_arg(fcinfo, 2, &namr);
	roles = text_array_arg(fcinfo, 6, &nroles);
	PG_RETURN_TEXT_P(warden_sign_access_token(
		text_to_cstring(PG_GETARG_TEXT_PP(0)),
		PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
		amr, namr,
		PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3)),
		PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4),
		PG_ARGISNULL(5) ? NULL :
		DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(5))),
		roles, nroles));
}

PG_FUNCTION_INFO_V1(warden_random_token);

/*
 * warden._random_token(prefix text) returns text: prefix followed by 256
 * random bits in base64url, for refresh tokens and API keys. The prefix
 * lets log scanners recognise a leaked secret.
 */
Datum
warden_random_token(PG_FUNCTION_ARGS)
{
	char	   *prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
	unsigned char raw[32];
	char		enc[64];
	size_t		len;

	if (!pg_strong_random(raw, sizeof(raw)) ||
		b64url_encode(raw, sizeof(raw), enc, sizeof(enc), &len) != B64URL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	OPENSSL_cleanse(raw, sizeof(raw));
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s%s", prefix, enc)));
}
