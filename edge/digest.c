/*
 * digest.c
 *		SHA-256 with a per-thread context (see digest.h).
 */
#include "digest.h"

#include <openssl/evp.h>
#include <pthread.h>

static pthread_once_t digest_once = PTHREAD_ONCE_INIT;
static pthread_key_t digest_key;
static bool digest_key_made;
static EVP_MD *digest_md;		/* kept for the process's life */

static void
digest_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
digest_init(void)
{
	digest_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	digest_key_made = pthread_key_create(&digest_key, digest_ctx_free) == 0;
}

bool
digest_sha256(const void *a, size_t alen, const void *b, size_t blen,
			  unsigned char out[DIGEST_SHA256_LEN])
{
	EVP_MD_CTX *ctx;
	unsigned int len = 0;

	if (pthread_once(&digest_once, digest_init) != 0 || digest_md == NULL ||
		!digest_key_made)
		return false;
	ctx = pthread_getspecific(digest_key);
	if (ctx == NULL)
	{
		ctx = EVP_MD_CTX_new();
		if (ctx == NULL)
			return false;
		if (pthread_setspecific(digest_key, ctx) != 0)
		{
			EVP_MD_CTX_free(ctx);
			return false;
		}
	}
	return EVP_DigestInit_ex2(ctx, digest_md, NULL) == 1 &&
		EVP_DigestUpdate(ctx, a, alen) == 1 &&
		(b == NULL || EVP_DigestUpdate(ctx, b, blen) == 1) &&
		EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == DIGEST_SHA256_LEN;
}
