/*
 * seal.c
 *		AES-256-GCM sealing of secrets at rest (see seal.h for the format).
 *
 * The additional authenticated data is the 5-byte header followed by the
 * caller's context; the header has a fixed length, so the concatenation is
 * unambiguous. On a failed open the output buffer is wiped, because GCM
 * decrypts before it can check the tag. Errors OpenSSL queues on the way
 * are popped again so they never surface in the caller's error handling.
 */
#include "seal.h"

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

size_t
seal_sealed_len(size_t n)
{
	return n > SEAL_MAX_PLAINTEXT ? 0 : n + SEAL_OVERHEAD;
}

size_t
seal_opened_len(size_t n)
{
	return n < SEAL_OVERHEAD ? 0 : n - SEAL_OVERHEAD;
}

static void
seal_put_header(uint8_t *h, uint32_t key_id)
{
	h[0] = SEAL_VERSION;
	h[1] = (uint8_t) (key_id >> 24);
	h[2] = (uint8_t) (key_id >> 16);
	h[3] = (uint8_t) (key_id >> 8);
	h[4] = (uint8_t) key_id;
}

/*
 * Starts a GCM operation with the key, the nonce and the whole AAD, so both
 * directions share exactly one definition of what is authenticated.
 */
static int
seal_begin(EVP_CIPHER_CTX *c, int enc, const uint8_t *key,
		   const uint8_t *header, const uint8_t *nonce,
		   const uint8_t *ctx, size_t ctxlen)
{
	int			n;

	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN,
							NULL) != 1 ||
		EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
		EVP_CipherUpdate(c, NULL, &n, header, SEAL_HEADER_LEN) != 1)
		return 0;
	if (ctxlen > 0 && EVP_CipherUpdate(c, NULL, &n, ctx, (int) ctxlen) != 1)
		return 0;
	return 1;
}

seal_status
seal_encrypt(const uint8_t key[SEAL_KEY_LEN], uint32_t key_id,
			 const uint8_t *ctx, size_t ctxlen,
			 const uint8_t *pt, size_t ptlen,
			 uint8_t *out, size_t outsize, size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	uint8_t    *nonce;
	uint8_t    *ct;
	seal_status st = SEAL_ERR_CRYPTO;
	int			n;
	int			fin;

	*outlen = 0;
	if (ptlen > SEAL_MAX_PLAINTEXT || ctxlen > SEAL_MAX_CONTEXT ||
		(ctx == NULL && ctxlen > 0))
		return SEAL_ERR_TOO_LARGE;
	if (outsize < ptlen + SEAL_OVERHEAD)
		return SEAL_ERR_SPACE;
	nonce = out + SEAL_HEADER_LEN;
	ct = nonce + SEAL_NONCE_LEN;

	ERR_set_mark();
	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		goto done;
	seal_put_header(out, key_id);
	if (RAND_bytes(nonce, SEAL_NONCE_LEN) != 1 ||
		!seal_begin(c, 1, key, out, nonce, ctx, ctxlen))
		goto done;
	n = 0;
	if (ptlen > 0 && EVP_EncryptUpdate(c, ct, &n, pt, (int) ptlen) != 1)
		goto done;
	fin = 0;
	if ((size_t) n != ptlen ||
		EVP_EncryptFinal_ex(c, ct + n, &fin) != 1 || fin != 0 ||
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
							ct + ptlen) != 1)
		goto done;
	*outlen = ptlen + SEAL_OVERHEAD;
	st = SEAL_OK;

done:
	EVP_CIPHER_CTX_free(c);
	if (st != SEAL_OK)
		OPENSSL_cleanse(out, ptlen + SEAL_OVERHEAD);
	ERR_pop_to_mark();
	return st;
}

seal_status
seal_key_id(const uint8_t *sealed, size_t len, uint32_t *key_id)
{
	*key_id = 0;
	if (sealed == NULL || len < SEAL_OVERHEAD)
		return SEAL_ERR_FORMAT;
	if (sealed[0] != SEAL_VERSION)
		return SEAL_ERR_VERSION;
	*key_id = (uint32_t) sealed[1] << 24 | (uint32_t) sealed[2] << 16 |
		(uint32_t) sealed[3] << 8 | (uint32_t) sealed[4];
	return SEAL_OK;
}

seal_status
seal_decrypt(const uint8_t key[SEAL_KEY_LEN], const uint8_t *ctx,
			 size_t ctxlen, const uint8_t *sealed, size_t len,
			 uint8_t *out, size_t outsize, size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	const uint8_t *nonce;
	const uint8_t *ct;
	size_t		ctlen;
	uint8_t		tag[SEAL_TAG_LEN];
	uint32_t	key_id;
	seal_status st;
	int			n;
	int			fin;

	*outlen = 0;
	st = seal_key_id(sealed, len, &key_id);
	if (st != SEAL_OK)
		return st;
	if (ctxlen > SEAL_MAX_CONTEXT || (ctx == NULL && ctxlen > 0))
		return SEAL_ERR_TOO_LARGE;
	ctlen = len - SEAL_OVERHEAD;
	if (ctlen > SEAL_MAX_PLAINTEXT)
		return SEAL_ERR_TOO_LARGE;
	if (outsize < ctlen)
		return SEAL_ERR_SPACE;
	nonce = sealed + SEAL_HEADER_LEN;
	ct = nonce + SEAL_NONCE_LEN;
	memcpy(tag, ct + ctlen, SEAL_TAG_LEN);

	st = SEAL_ERR_CRYPTO;
	ERR_set_mark();
	c = EVP_CIPHER_CTX_new();
	if (c == NULL || !seal_begin(c, 0, key, sealed, nonce, ctx, ctxlen))
		goto done;
	n = 0;
	if (ctlen > 0 && EVP_DecryptUpdate(c, out, &n, ct, (int) ctlen) != 1)
		goto done;
	if ((size_t) n != ctlen ||
		EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto done;
	fin = 0;
	if (EVP_DecryptFinal_ex(c, out + n, &fin) != 1 || fin != 0)
	{
		st = SEAL_ERR_AUTH;
		goto done;
	}
	*outlen = ctlen;
	st = SEAL_OK;

done:
	EVP_CIPHER_CTX_free(c);
	if (st != SEAL_OK)
		OPENSSL_cleanse(out, outsize);
	ERR_pop_to_mark();
	return st;
}

const char *
seal_strerror(seal_status status)
{
	switch (status)
	{
		case SEAL_OK:
			return "success";
		case SEAL_ERR_FORMAT:
			return "sealed value is truncated";
		case SEAL_ERR_VERSION:
			return "sealed value has an unknown format version";
		case SEAL_ERR_AUTH:
			return "sealed value does not authenticate "
				"(wrong key, wrong context or tampered)";
		case SEAL_ERR_SPACE:
			return "output buffer too small";
		case SEAL_ERR_TOO_LARGE:
			return "value or context too large to seal";
		case SEAL_ERR_CRYPTO:
			return "cryptographic library failure";
	}
	return "unknown seal error";
}
