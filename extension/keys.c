/*
 * keys.c
 *		RS256 signing keys: creation, the per-backend key cache, and the key
 *		lookups that signing and verification use.
 *
 * A key moves next -> active -> retiring -> retired (warden.
 * rotate_signing_key(), in the install script, moves the states). A next key
 * is published in the JWKS before it signs anything; a retiring key keeps
 * verifying until verify_until, when the last token it signed has expired.
 * The first issuance on a new installation creates an active and a next key.
 *
 * Each backend parses the keys once (parsing RSA keys under OpenSSL 3 is
 * slow) and keeps the EVP_PKEYs until a change of warden.signing_keys
 * commits (see cache.c). The private key is stored only as PKCS#8 DER sealed
 * under the master key, bound to its kid.
 *
 * OpenSSL and jansson objects are freed before any ereport can jump over
 * them; EVP_PKEYs of the cache live in the static array, which the next load
 * frees, so an error halfway through a load leaks nothing.
 */
#include "postgres.h"

#include "jansson_pg.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/timestamp.h"

#include "jwk.h"
#include "jwt.h"
#include "warden.h"

#define MAX_KEYS 64
#define KID_MAX 64

typedef struct SigningKey
{
	char		kid[KID_MAX + 1];
	char		state;			/* 'n'ext, 'a'ctive or 'r'etiring */
	TimestampTz verify_until;	/* retiring keys only */
	jwt_verifier *ver;			/* the public key, prepared */
	EVP_PKEY   *priv;			/* active key only */
} SigningKey;

static SigningKey keys[MAX_KEYS];
static int	nkeys = 0;
static bool keys_valid = false;

static void
keys_free_all(void)
{
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		jwt_verifier_free(keys[i].ver);
		EVP_PKEY_free(keys[i].priv);
	}
	memset(keys, 0, sizeof(keys));
	nkeys = 0;
}

static char *
key_context(const char *kid)
{
	return psprintf("warden/signing_key/%s", kid);
}

/*
 * Parses a stored public JWK into a verifier prepared for repeated use;
 * NULL with *err set on failure.
 */
static jwt_verifier *
key_parse_public(const char *jwk_text, const char **err)
{
	json_error_t jerr;
	json_t	   *jwk = json_loads(jwk_text, JSON_REJECT_DUPLICATES, &jerr);
	EVP_PKEY   *pub = NULL;
	jwt_verifier *ver = NULL;
	jwk_status	st;
	jwt_status	jst;

	if (jwk == NULL)
	{
		*err = "not JSON";
		return NULL;
	}
	st = jwk_to_public_key(jwk, &pub);
	json_decref(jwk);
	if (st != JWK_OK)
	{
		*err = jwk_strerror(st);
		return NULL;
	}
	jst = jwt_verifier_new(pub, &ver);
	EVP_PKEY_free(pub);
	if (jst != JWT_OK)
		*err = jwt_strerror(jst);
	return ver;
}

static EVP_PKEY *
key_parse_private(const bytea *sealed, const char *kid)
{
	size_t		len;
	char	   *ctx = key_context(kid);
	uint8	   *der = warden_unseal(sealed, ctx, &len);
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long) len);
	EVP_PKEY   *priv = p8 ? EVP_PKCS82PKEY(p8) : NULL;

	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_cleanse(der, len);
	pfree(der);
	pfree(ctx);
	if (priv == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("private key of signing key \"%s\" is not a valid PKCS#8 key", kid)));
	return priv;
}

/*
 * Reads every key that can still sign or verify. The cache is marked valid
 * before reading, so an invalidation that arrives during the read clears it
 * again and the next call reads once more.
 */
static void
keys_load(void)
{
	int			ret;
	uint64		i;

	keys_free_all();
	warden_cache_watch("signing_keys", &keys_valid);
	keys_valid = true;

	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = SPI_execute("SELECT kid, state, public_jwk::text, "
						  "       CASE WHEN state = 'active' THEN private_key END, "
						  "       verify_until "
						  "  FROM warden.signing_keys "
						  " WHERE state IN ('next', 'active') "
						  "    OR (state = 'retiring' AND verify_until > now())",
						  false, MAX_KEYS + 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read warden.signing_keys: %s",
				 SPI_result_code_string(ret));
		if (SPI_processed > MAX_KEYS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("more than %d signing keys are in use", MAX_KEYS),
					 errhint("Retire old keys with warden.rotate_signing_key().")));

		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *kid = SPI_getvalue(tup, desc, 1);
			char	   *state = SPI_getvalue(tup, desc, 2);
			char	   *jwk = SPI_getvalue(tup, desc, 3);
			bool		isnull;
			Datum		d;
			SigningKey *k = &keys[nkeys];
			const char *err = NULL;

			if (strlen(kid) > KID_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("signing key id is longer than %d characters", KID_MAX)));
			strlcpy(k->kid, kid, sizeof(k->kid));
			k->state = state[0];
			d = SPI_getbinval(tup, desc, 5, &isnull);
			k->verify_until = isnull ? DT_NOEND : DatumGetTimestampTz(d);
			nkeys++;

			k->ver = key_parse_public(jwk, &err);
			if (k->ver == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("public key of signing key \"%s\" is invalid: %s",
								kid, err)));
			d = SPI_getbinval(tup, desc, 4, &isnull);
			if (!isnull)
				k->priv = key_parse_private(DatumGetByteaPP(d), k->kid);
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		keys_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Creates a key in the given state and returns its kid (palloc'd). The kid
 * is the key's RFC 7638 thumbprint, so it names the key and nothing else.
 * The caller is connected to SPI; the kid is allocated outside it, so it
 * outlives SPI_finish().
 */
static char *
keys_create(const char *state)
{
	EVP_PKEY   *pk = EVP_RSA_gen((unsigned int) warden_signing_key_bits);
	char		kid[JWK_THUMBPRINT_LEN + 1];
	json_t	   *jwk = NULL;
	char	   *jwk_json = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *der = NULL;
	int			der_len = -1;
	char	   *jwk_text = NULL;
	uint8	   *der_copy = NULL;
	bytea	   *sealed;
	char	   *ctx;
	Datum		values[5];
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, BYTEAOID, INT4OID};
	int			ret;

	if (pk != NULL &&
		jwk_thumbprint(pk, kid, sizeof(kid)) == JWK_OK &&
		jwk_from_public_key(pk, kid, &jwk) == JWK_OK &&
		(jwk_json = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS)) != NULL &&
		(p8 = EVP_PKEY2PKCS8(pk)) != NULL &&
		(der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) > 0)
	{
		/* copy into PostgreSQL memory, so nothing foreign outlives this */
		jwk_text = pstrdup(jwk_json);
		der_copy = palloc(der_len);
		memcpy(der_copy, der, der_len);
	}
	if (der != NULL)
		OPENSSL_clear_free(der, der_len);
	PKCS8_PRIV_KEY_INFO_free(p8);
	free(jwk_json);
	json_decref(jwk);
	EVP_PKEY_free(pk);
	if (der_copy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate an RSA signing key")));

	ctx = key_context(kid);
	sealed = warden_seal(der_copy, der_len, ctx);
	OPENSSL_cleanse(der_copy, der_len);

	values[0] = CStringGetTextDatum(kid);
	values[1] = CStringGetTextDatum(state);
	values[2] = CStringGetTextDatum(jwk_text);
	values[3] = PointerGetDatum(sealed);
	values[4] = Int32GetDatum(warden_signing_key_bits);
	ret = SPI_execute_with_args("INSERT INTO warden.signing_keys "
								"(kid, state, public_jwk, private_key, bits, activated_at) "
								"VALUES ($1, $2, $3::jsonb, $4, $5, "
								"        CASE WHEN $2 = 'active' THEN now() END)",
								5, types, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not insert signing key: %s",
			 SPI_result_code_string(ret));
	return strcpy(SPI_palloc(strlen(kid) + 1), kid);
}

/*
 * Creates the first active key and its successor, unless a concurrent
 * transaction did so first (the table lock serialises first uses).
 */
static void
keys_bootstrap(void)
{
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("LOCK TABLE warden.signing_keys IN SHARE ROW EXCLUSIVE MODE",
					  false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock warden.signing_keys");
	ret = SPI_execute("SELECT 1 FROM warden.signing_keys WHERE state = 'active'",
					  false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read warden.signing_keys");
	if (SPI_processed == 0)
	{
		char	   *kid = keys_create("active");

		keys_create("next");
		ret = SPI_execute_with_args("INSERT INTO warden.audit_log (event, detail) "
									"VALUES ('key_created', jsonb_build_object('kid', $1::text, 'reason', 'first use'))",
									1, (Oid[]) {TEXTOID},
									(Datum[]) {CStringGetTextDatum(kid)},
									NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not write audit log");
	}
	SPI_finish();
	keys_valid = false;
}

static void
keys_ensure_loaded(void)
{
	if (!keys_valid)
		keys_load();
}

/*
 * The active private key for signing, creating the first keys on first use.
 * *kid points into the cache, valid until the next cache reload.
 */
EVP_PKEY *
warden_signing_key(const char **kid)
{
	int			i;
	int			attempt;

	for (attempt = 0; attempt < 2; attempt++)
	{
		keys_ensure_loaded();
		for (i = 0; i < nkeys; i++)
			if (keys[i].state == 'a' && keys[i].priv != NULL)
			{
				*kid = keys[i].kid;
				return keys[i].priv;
			}
		if (attempt == 0)
			keys_bootstrap();
	}
	elog(ERROR, "no active signing key after creating one");
	return NULL;				/* keep compiler quiet */
}

/*
 * jwt_verifier_lookup for verification: active keys, and retiring keys
 * until the last token they signed has expired. A next key has signed
 * nothing, so a token naming it is refused like an unknown key. Must not
 * throw: the cache is loaded before verification starts.
 */
jwt_verifier *
warden_lookup_verify_key(void *arg, const char *kid)
{
	TimestampTz now = *(TimestampTz *) arg;
	int			i;

	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i].kid, kid) == 0)
		{
			if (keys[i].state == 'a' ||
				(keys[i].state == 'r' && keys[i].verify_until > now))
				return keys[i].ver;
			return NULL;
		}
	return NULL;
}

/* Loads the key cache if a change made it stale. */
void
warden_keys_prepare(void)
{
	keys_ensure_loaded();
}

PG_FUNCTION_INFO_V1(warden_create_signing_key);

/*
 * warden._create_signing_key(state text) returns text: used by
 * warden.rotate_signing_key() to publish a new next key.
 */
Datum
warden_create_signing_key(PG_FUNCTION_ARGS)
{
	char	   *state = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *kid;

	if (strcmp(state, "next") != 0 && strcmp(state, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a new signing key is either next or active")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	kid = keys_create(state);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(kid));
}
