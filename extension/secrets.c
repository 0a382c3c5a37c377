/*
 * secrets.c
 *		Sealing and unsealing of the secrets warden stores, under the master
 *		key (AES-256-GCM, see core/seal.h).
 *
 * Every sealed value is bound to a context string naming its purpose and
 * row (for example "warden/signing_key/<kid>"), so a ciphertext copied into
 * another row or column does not open. Errors never quote the data.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "seal.h"
#include "warden.h"

bytea *
warden_seal(const void *data, size_t len, const char *context)
{
	uint32		key_id;
	const uint8 *key = warden_master_key(&key_id);
	size_t		outsize = seal_sealed_len(len);
	size_t		outlen;
	bytea	   *out;
	seal_status st;

	if (len > SEAL_MAX_PLAINTEXT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("secret too large to seal")));
	out = palloc(VARHDRSZ + outsize);
	st = seal_encrypt(key, key_id, (const uint8 *) context, strlen(context),
					  data, len, (uint8 *) VARDATA(out), outsize, &outlen);
	if (st != SEAL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not seal secret: %s", seal_strerror(st))));
	SET_VARSIZE(out, VARHDRSZ + outlen);
	return out;
}

/*
 * Returns the plaintext in a palloc'd buffer with *len set; the caller
 * clears it (OPENSSL_cleanse) when done.
 */
void *
warden_unseal(const bytea *sealed, const char *context, size_t *len)
{
	uint32		key_id;
	uint32		sealed_key_id;
	const uint8 *key;
	const uint8 *data = (const uint8 *) VARDATA_ANY(sealed);
	size_t		n = VARSIZE_ANY_EXHDR(sealed);
	size_t		outsize = seal_opened_len(n);
	uint8	   *out;
	seal_status st;

	st = seal_key_id(data, n, &sealed_key_id);
	if (st != SEAL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not unseal secret: %s", seal_strerror(st))));
	key = warden_master_key_by_id(sealed_key_id);
	if (key == NULL)
	{
		(void) warden_master_key(&key_id);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("secret was sealed with master key %08x, but the configured master key is %08x",
						sealed_key_id, key_id),
				 errhint("Point warden.master_key_file, or warden.master_key_previous_files, at the key this data was sealed with.")));
	}

	out = palloc(outsize > 0 ? outsize : 1);
	st = seal_decrypt(key, (const uint8 *) context, strlen(context), data, n,
					  out, outsize, len);
	if (st != SEAL_OK)
	{
		OPENSSL_cleanse(out, outsize);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("could not unseal secret: %s", seal_strerror(st))));
	}
	return out;
}

PG_FUNCTION_INFO_V1(warden_ct_equal);

/*
 * warden._ct_equal(a bytea, b bytea) returns boolean: compares digests of
 * secrets in time that does not depend on where they differ.
 */
Datum
warden_ct_equal(PG_FUNCTION_ARGS)
{
	bytea	   *a = PG_GETARG_BYTEA_PP(0);
	bytea	   *b = PG_GETARG_BYTEA_PP(1);

	PG_RETURN_BOOL(VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
				   CRYPTO_memcmp(VARDATA_ANY(a), VARDATA_ANY(b),
								 VARSIZE_ANY_EXHDR(a)) == 0);
}

PG_FUNCTION_INFO_V1(warden_encrypt);

/*
 * warden.encrypt(data bytea, context text default '') returns bytea:
 * AES-256-GCM under the current master key, bound to the context (a
 * ciphertext made for one context does not decrypt in another).
 */
Datum
warden_encrypt(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	char	   *ctx = psprintf("warden/data/%s", text_to_cstring(PG_GETARG_TEXT_PP(1)));

	PG_RETURN_BYTEA_P(warden_seal(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), ctx));
}

PG_FUNCTION_INFO_V1(warden_decrypt);

/* warden.decrypt(data bytea, context text default '') returns bytea */
Datum
warden_decrypt(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	char	   *ctx = psprintf("warden/data/%s", text_to_cstring(PG_GETARG_TEXT_PP(1)));
	size_t		len;
	void	   *plain = warden_unseal(data, ctx, &len);
	bytea	   *out = palloc(VARHDRSZ + len);

	memcpy(VARDATA(out), plain, len);
	SET_VARSIZE(out, VARHDRSZ + len);
	OPENSSL_cleanse(plain, len);
	PG_RETURN_BYTEA_P(out);
}

/*
 * Seals a secret again under the current master key, unless it already is;
 * NULL when nothing changed.
 */
static bytea *
reseal(bytea *sealed, const char *ctx)
{
	uint32		current;
	uint32		sealed_id;
	size_t		len;
	void	   *plain;
	bytea	   *out;

	(void) warden_master_key(&current);
	if (seal_key_id((const uint8 *) VARDATA_ANY(sealed), VARSIZE_ANY_EXHDR(sealed),
					&sealed_id) == SEAL_OK && sealed_id == current)
		return NULL;
	plain = warden_unseal(sealed, ctx, &len);
	out = warden_seal(plain, len, ctx);
	OPENSSL_cleanse(plain, len);
	return out;
}

PG_FUNCTION_INFO_V1(warden_reseal);

/*
 * warden._reseal(sealed bytea, context text) returns bytea: the secret
 * sealed under the current master key (the full context given), or NULL
 * when it already was.
 */
Datum
warden_reseal(PG_FUNCTION_ARGS)
{
	bytea	   *out = reseal(PG_GETARG_BYTEA_PP(0),
							 text_to_cstring(PG_GETARG_TEXT_PP(1)));

	if (out == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(warden_reencrypt);

/*
 * warden.reencrypt(data bytea, context text default '') returns bytea:
 * what warden.encrypt() made, sealed again under the current master key
 * (the same value when it already was), for applications' own columns
 * after a master key rotation.
 */
Datum
warden_reencrypt(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	char	   *ctx = psprintf("warden/data/%s", text_to_cstring(PG_GETARG_TEXT_PP(1)));
	bytea	   *out = reseal(data, ctx);

	PG_RETURN_BYTEA_P(out != NULL ? out : PG_GETARG_BYTEA_P_COPY(0));
}

PG_FUNCTION_INFO_V1(warden_hmac_hex);

/*
 * warden._hmac_hex(key bytea, data text) returns text: HMAC-SHA-256 in hex,
 * for pseudonyms keyed by warden's pseudonym key.
 */
Datum
warden_hmac_hex(PG_FUNCTION_ARGS)
{
	bytea	   *key = PG_GETARG_BYTEA_PP(0);
	text	   *data = PG_GETARG_TEXT_PP(1);
	uint8		mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char		hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int i;

	if (HMAC(EVP_sha256(), VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
			 (const uint8 *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
			 mac, &maclen) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute an HMAC")));
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}
