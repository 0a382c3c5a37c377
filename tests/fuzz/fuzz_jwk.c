/*
 * fuzz_jwk.c
 *		libFuzzer target for core/jwk.
 *
 * Feeds arbitrary bytes to jwk_set_parse, and, when they are one JSON
 * object, to jwk_to_public_key. Properties: nothing crashes or leaks; a
 * parsed set answers lookups; a key that parses survives the round trip
 * key -> JWK -> key unchanged (same key, same RFC 7638 thumbprint); no call
 * leaves errors in OpenSSL's error queue.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "jwk.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_one_key(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t	   *jwk = json_loadb((const char *) data, size, 0, &err);
	json_t	   *again = NULL;
	EVP_PKEY   *key = NULL;
	EVP_PKEY   *key2 = NULL;
	char		t1[JWK_THUMBPRINT_LEN + 1];
	char		t2[JWK_THUMBPRINT_LEN + 1];

	if (jwk == NULL)
		return;
	if (jwk_to_public_key(jwk, &key) == JWK_OK)
	{
		if (key == NULL ||
			jwk_from_public_key(key, "fuzz", &again) != JWK_OK ||
			jwk_to_public_key(again, &key2) != JWK_OK ||
			EVP_PKEY_eq(key, key2) != 1 ||
			jwk_thumbprint(key, t1, sizeof(t1)) != JWK_OK ||
			jwk_thumbprint(key2, t2, sizeof(t2)) != JWK_OK ||
			strcmp(t1, t2) != 0)
			abort();
	}
	else if (key != NULL)
		abort();
	EVP_PKEY_free(key);
	EVP_PKEY_free(key2);
	json_decref(again);
	json_decref(jwk);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	jwk_set    *set = NULL;

	if (jwk_set_parse((const char *) data, size, &set) == JWK_OK)
	{
		if (set == NULL || jwk_set_count(set) > JWK_SET_MAX_KEYS)
			abort();
		(void) jwk_set_lookup(set, "k1");
		(void) jwk_set_lookup(set, "");
		(void) jwk_set_lookup(set, NULL);
	}
	else if (set != NULL)
		abort();
	jwk_set_free(set);

	fuzz_one_key(data, size);

	if (ERR_peek_error() != 0)
		abort();
	return 0;
}
