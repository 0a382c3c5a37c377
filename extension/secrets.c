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

#include "fmgr.h"

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
	const uint8 *key = warden_master_key(&key_id);
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
	if (sealed_key_id != key_id)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("secret was sealed with master key %08x, but the configured master key is %08x",
						sealed_key_id, key_id),
				 errhint("Point warden.master_key_file at the key this data was sealed with.")));

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
