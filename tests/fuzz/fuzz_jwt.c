/*
 * fuzz_jwt.c
 *		libFuzzer target for core/jwt.
 *
 * Feeds arbitrary bytes to jwt_parse, jwt_check_claims and jwt_verify with a
 * fixed RSA key (the public key of RFC 7515 Appendix A.2, returned for any
 * kid). An input starting with '{' is taken as "header JSON \n payload
 * JSON" and wrapped into a token (base64url segments, a 256-byte signature
 * that never verifies), so the fuzzer explores the header and claim rules
 * directly instead of first having to find valid base64url; any other input
 * is token text. Properties: nothing crashes, reads out of bounds or leaks
 * on any path; jwt_verify never accepts what jwt_parse refuses, never
 * accepts a token whose signature jwt_verify_signature rejects, and leaves
 * its output zeroed on failure; no call leaves errors in OpenSSL's error
 * queue.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "b64url.h"
#include "jwk.h"
#include "jwt.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_key;

static EVP_PKEY *
fuzz_lookup(void *arg, const char *kid)
{
	(void) arg;
	(void) kid;
	return fuzz_key;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_t	   *jwk;

	(void) argc;
	(void) argv;
	jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "e", "AQAB", "n",
					"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mP"
					"ddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
					"pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-b"
					"Sf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2Ca"
					"pHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyx"
					"XFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb5"
					"4h4FRWyuXpoQ");
	if (jwk == NULL || jwk_to_public_key(jwk, &fuzz_key) != JWK_OK)
		abort();
	json_decref(jwk);
	return 0;
}

/* Wraps "header\npayload" into token text; returns its length. */
static size_t
fuzz_wrap(const uint8_t *data, size_t size, char *out, size_t outsize)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t		hlen = nl ? (size_t) (nl - data) : size;
	const uint8_t *payload = nl ? nl + 1 : data + size;
	size_t		plen = size - (size_t) (payload - data);
	unsigned char sig[256];
	size_t		o = 0;
	size_t		n;

	memset(sig, 0x5c, sizeof(sig));
	if (b64url_encode(data, hlen, out, outsize, &n) != B64URL_OK)
		abort();
	o += n;
	out[o++] = '.';
	if (b64url_encode(payload, plen, out + o, outsize - o, &n) != B64URL_OK)
		abort();
	o += n;
	out[o++] = '.';
	if (b64url_encode(sig, sizeof(sig), out + o, outsize - o, &n) !=
		B64URL_OK)
		abort();
	return o + n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tok = (const char *) data;
	char	   *wrapped = NULL;
	jwt_policy	p = {
		.issuer = "joe",
		.audience = "warden",
		.now = 1300819000,
		.leeway = 60,
		.require_jti = (size & 1) != 0,
	};
	jwt_token	t;
	jwt_status	parsed;
	jwt_status	sig = JWT_ERR_MALFORMED;
	jwt_status	verified;

	if (size > 0 && data[0] == '{')
	{
		size_t		cap = size / 3 * 4 + 400;

		wrapped = malloc(cap);
		if (wrapped == NULL)
			abort();
		size = fuzz_wrap(data, size, wrapped, cap);
		tok = wrapped;
	}

	parsed = jwt_parse(tok, size, 0, &t);
	if (parsed == JWT_OK)
	{
		if (t.header == NULL || t.claims == NULL ||
			t.signing_input_len >= size || t.sig_len > JWT_SIG_MAX)
			abort();
		sig = jwt_verify_signature(tok, &t, fuzz_key);
		(void) jwt_check_claims(&t, &p);
		p.issuer = NULL;
		p.audience = NULL;
		(void) jwt_check_claims(&t, &p);
		p.issuer = "joe";
		p.audience = "warden";
	}
	else if (t.header != NULL || t.claims != NULL)
		abort();
	jwt_token_free(&t);

	verified = jwt_verify(tok, size, 0, fuzz_lookup, NULL, &p, &t);
	if (verified == JWT_OK)
	{
		if (parsed != JWT_OK || sig != JWT_OK || t.claims == NULL)
			abort();
	}
	else if (t.header != NULL || t.claims != NULL || t.kid != NULL)
		abort();
	jwt_token_free(&t);

	free(wrapped);
	if (ERR_peek_error() != 0)
		abort();
	return 0;
}
