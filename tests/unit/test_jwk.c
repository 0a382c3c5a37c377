/*
 * test_jwk.c
 *		Tests of core/jwk: public key -> JWK -> public key round trips, the
 *		RFC 7638 section 3.1 thumbprint, the strict single-key parser, and
 *		JWK Sets: lookup by kid, keys that are skipped, and every defect
 *		that must refuse the whole set.
 */
#include "unit.h"

#include "b64url.h"
#include "jwk.h"
#include "jwt.h"

#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

/* RFC 7638 section 3.1: the example key and its SHA-256 thumbprint. */
static const char *const rfc_n =
"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxu"
"hDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN"
"5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5"
"hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBni"
"Iqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char *const rfc_thumbprint =
"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

static EVP_PKEY *key_a;
static EVP_PKEY *key_b;
static EVP_PKEY *key_weak;
static EVP_PKEY *key_ec;

/* ---- variants of the RFC modulus -------------------------------------- */

typedef enum n_variant
{
	N_AS_IS,
	N_LEADING_ZERO,				/* a 0x00 octet prepended: not minimal */
	N_EVEN,						/* lowest bit cleared */
	N_1024,						/* first 128 octets, made odd */
	N_2047,						/* top bit cleared: 2047 bits */
	N_8200						/* 1025 octets */
} n_variant;

/* Base64url of a variant of the RFC modulus, in a static buffer. */
static const char *
n_of(n_variant v)
{
	static char out[2048];
	unsigned char raw[1100];
	unsigned char mod[1100];
	size_t		len;
	size_t		olen;

	b64url_decode(rfc_n, strlen(rfc_n), raw, sizeof(raw), &len);
	switch (v)
	{
		case N_AS_IS:
			break;
		case N_LEADING_ZERO:
			mod[0] = 0;
			memcpy(mod + 1, raw, len);
			memcpy(raw, mod, ++len);
			break;
		case N_EVEN:
			raw[len - 1] &= 0xfe;
			break;
		case N_1024:
			len = 128;
			raw[len - 1] |= 1;
			break;
		case N_2047:
			raw[0] &= 0x7f;
			break;
		case N_8200:
			memset(mod, 0xc5, 1025);
			memcpy(raw, mod, 1025);
			len = 1025;
			break;
	}
	b64url_encode(raw, len, out, sizeof(out), &olen);
	return out;
}

/* ---- round trip -------------------------------------------------------- */

static int
same_bn_param(EVP_PKEY *a, EVP_PKEY *b, const char *name)
{
	BIGNUM	   *x = NULL;
	BIGNUM	   *y = NULL;
	int			same;

	EVP_PKEY_get_bn_param(a, name, &x);
	EVP_PKEY_get_bn_param(b, name, &y);
	same = x != NULL && y != NULL && BN_cmp(x, y) == 0;
	BN_free(x);
	BN_free(y);
	return same;
}

static void
test_round_trip(void)
{
	EVP_PKEY   *keys[] = {key_a, key_b};

	for (int i = 0; i < 2; i++)
	{
		json_t	   *jwk = NULL;
		EVP_PKEY   *pub = NULL;
		unsigned char nraw[600];
		size_t		nlen = 0;
		const char *n;
		char		tok[4096];
		size_t		toklen;
		json_t	   *claims;
		jwt_token	t;
		jwk_status	st;

		st = jwk_from_public_key(keys[i], "key-1", &jwk);
		UNIT_CHECK(st == JWK_OK, "round trip %d: to JWK (%s)", i,
				   jwk_strerror(st));
		if (st != JWK_OK)
			continue;
		UNIT_CHECK(strcmp(json_string_value(json_object_get(jwk, "kty")),
						  "RSA") == 0 &&
				   strcmp(json_string_value(json_object_get(jwk, "use")),
						  "sig") == 0 &&
				   strcmp(json_string_value(json_object_get(jwk, "alg")),
						  "RS256") == 0 &&
				   strcmp(json_string_value(json_object_get(jwk, "kid")),
						  "key-1") == 0 &&
				   strcmp(json_string_value(json_object_get(jwk, "e")),
						  "AQAB") == 0,
				   "round trip %d: members", i);
		UNIT_CHECK(json_object_size(jwk) == 6, "round trip %d: no other "
				   "members (nothing private)", i);
		n = json_string_value(json_object_get(jwk, "n"));
		b64url_decode(n, strlen(n), nraw, sizeof(nraw), &nlen);
		UNIT_CHECK(nlen == 256 && nraw[0] != 0, "round trip %d: n is 256 "
				   "octets without a leading zero", i);

		st = jwk_to_public_key(jwk, &pub);
		UNIT_CHECK(st == JWK_OK, "round trip %d: from JWK (%s)", i,
				   jwk_strerror(st));
		UNIT_CHECK(same_bn_param(pub, keys[i], OSSL_PKEY_PARAM_RSA_N) &&
				   same_bn_param(pub, keys[i], OSSL_PKEY_PARAM_RSA_E),
				   "round trip %d: same n and e", i);
		UNIT_CHECK(EVP_PKEY_eq(pub, keys[i]) == 1, "round trip %d: EVP_PKEY_eq",
				   i);

		/* the recovered key verifies what the original signed */
		claims = json_pack("{s:s}", "sub", "alice");
		jwt_sign_rs256(keys[i], "key-1", claims, tok, sizeof(tok), &toklen);
		UNIT_CHECK(jwt_parse(tok, toklen, 0, &t) == JWT_OK &&
				   jwt_verify_signature(tok, &t, pub) == JWT_OK,
				   "round trip %d: verifies a signature", i);
		jwt_token_free(&t);
		json_decref(claims);
		EVP_PKEY_free(pub);
		json_decref(jwk);
	}
}

static void
test_from_public_key_errors(void)
{
	json_t	   *jwk = (json_t *) 1;
	char		thumb[64];

	UNIT_CHECK(jwk_from_public_key(key_weak, "w", &jwk) == JWK_ERR_KEY_SIZE &&
			   jwk == NULL, "to JWK: RSA-1024 refused");
	UNIT_CHECK(jwk_from_public_key(key_ec, "e", &jwk) == JWK_ERR_KTY,
			   "to JWK: EC key refused");
	UNIT_CHECK(jwk_from_public_key(NULL, "e", &jwk) == JWK_ERR_KTY,
			   "to JWK: no key");
	UNIT_CHECK(jwk_from_public_key(key_a, "", &jwk) == JWK_ERR_KID,
			   "to JWK: empty kid");
	UNIT_CHECK(jwk_from_public_key(key_a, "\xc3", &jwk) == JWK_ERR_KID,
			   "to JWK: kid not UTF-8");

	/* without a kid the thumbprint names the key */
	UNIT_CHECK(jwk_from_public_key(key_a, NULL, &jwk) == JWK_OK,
			   "to JWK: NULL kid");
	UNIT_CHECK(jwk_thumbprint(key_a, thumb, sizeof(thumb)) == JWK_OK &&
			   strcmp(json_string_value(json_object_get(jwk, "kid")),
					  thumb) == 0, "to JWK: NULL kid is the thumbprint");
	json_decref(jwk);
}

/* ---- RFC 7638 ------------------------------------------------------------ */

static void
test_rfc7638_thumbprint(void)
{
	json_t	   *jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "RSA",
								"n", rfc_n, "e", "AQAB", "alg", "RS256",
								"kid", "2011-04-29");
	EVP_PKEY   *pub = NULL;
	char		out[JWK_THUMBPRINT_LEN + 1];
	jwk_status	st;

	st = jwk_to_public_key(jwk, &pub);
	UNIT_CHECK(st == JWK_OK, "rfc7638: key (%s)", jwk_strerror(st));
	st = jwk_thumbprint(pub, out, sizeof(out));
	UNIT_CHECK(st == JWK_OK, "rfc7638: status %s", jwk_strerror(st));
	UNIT_CHECK_MEM(out, strlen(out), rfc_thumbprint, strlen(rfc_thumbprint),
				   "rfc7638: thumbprint");
	UNIT_CHECK(jwk_thumbprint(pub, out, sizeof(out) - 1) == JWK_ERR_SPACE,
			   "rfc7638: buffer one byte short");
	UNIT_CHECK(jwk_thumbprint(key_ec, out, sizeof(out)) == JWK_ERR_KTY,
			   "thumbprint of an EC key refused");
	UNIT_CHECK(jwk_thumbprint(key_weak, out, sizeof(out)) == JWK_OK &&
			   strlen(out) == JWK_THUMBPRINT_LEN,
			   "thumbprint of a small key still computes");
	EVP_PKEY_free(pub);
	json_decref(jwk);
}

/* ---- the single-key parser ------------------------------------------------ */

typedef struct key_case
{
	const char *name;
	const char *extra;			/* members added to the RFC key (JSON) */
	n_variant	n;
	const char *e;				/* NULL: "AQAB" */
	jwk_status	want;
} key_case;

static const key_case key_cases[] = {
	{"rfc key", "", N_AS_IS, NULL, JWK_OK},
	{"alg RS256 use sig", ",\"alg\":\"RS256\",\"use\":\"sig\"", N_AS_IS, NULL,
	JWK_OK},
	{"key_ops verify", ",\"key_ops\":[\"verify\"]", N_AS_IS, NULL, JWK_OK},
	{"unknown members ignored", ",\"x5t\":\"abc\",\"ext\":true", N_AS_IS,
	NULL, JWK_OK},
	{"e 3", "", N_AS_IS, "Aw", JWK_OK},
	{"alg RS512", ",\"alg\":\"RS512\"", N_AS_IS, NULL, JWK_ERR_ALG},
	{"alg rs256", ",\"alg\":\"rs256\"", N_AS_IS, NULL, JWK_ERR_ALG},
	{"alg RSA-OAEP", ",\"alg\":\"RSA-OAEP\"", N_AS_IS, NULL, JWK_ERR_ALG},
	{"alg a number", ",\"alg\":256", N_AS_IS, NULL, JWK_ERR_MALFORMED},
	{"use enc", ",\"use\":\"enc\"", N_AS_IS, NULL, JWK_ERR_USE},
	{"use a number", ",\"use\":1", N_AS_IS, NULL, JWK_ERR_MALFORMED},
	{"key_ops encrypt", ",\"key_ops\":[\"encrypt\"]", N_AS_IS, NULL,
	JWK_ERR_USE},
	{"key_ops empty", ",\"key_ops\":[]", N_AS_IS, NULL, JWK_ERR_USE},
	{"key_ops a string", ",\"key_ops\":\"verify\"", N_AS_IS, NULL,
	JWK_ERR_MALFORMED},
	{"key_ops with a number", ",\"key_ops\":[\"verify\",1]", N_AS_IS, NULL,
	JWK_ERR_MALFORMED},
	{"private d", ",\"d\":\"AQAB\"", N_AS_IS, NULL, JWK_ERR_PRIVATE},
	{"private p", ",\"p\":\"AQAB\"", N_AS_IS, NULL, JWK_ERR_PRIVATE},
	{"private qi", ",\"qi\":\"AQAB\"", N_AS_IS, NULL, JWK_ERR_PRIVATE},
	{"private oth", ",\"oth\":[]", N_AS_IS, NULL, JWK_ERR_PRIVATE},
	{"private d null", ",\"d\":null", N_AS_IS, NULL, JWK_ERR_PRIVATE},
	{"symmetric k", ",\"k\":\"AQAB\"", N_AS_IS, NULL, JWK_ERR_PRIVATE},
	{"kid a number", ",\"kid\":7", N_AS_IS, NULL, JWK_ERR_KID},
	{"n not minimal", "", N_LEADING_ZERO, NULL, JWK_ERR_MALFORMED},
	{"n even", "", N_EVEN, NULL, JWK_ERR_MALFORMED},
	{"n of 1024 bits", "", N_1024, NULL, JWK_ERR_KEY_SIZE},
	{"n of 2047 bits", "", N_2047, NULL, JWK_ERR_KEY_SIZE},
	{"n of 8200 bits", "", N_8200, NULL, JWK_ERR_KEY_SIZE},
	{"e 1", "", N_AS_IS, "AQ", JWK_ERR_EXPONENT},
	{"e 2", "", N_AS_IS, "Ag", JWK_ERR_EXPONENT},
	{"e 65536", "", N_AS_IS, "AQAA", JWK_ERR_EXPONENT},
	{"e not minimal", "", N_AS_IS, "AAEAAQ", JWK_ERR_MALFORMED},
	{"e of 9 octets", "", N_AS_IS, "AQAAAAAAAAAB", JWK_ERR_EXPONENT},
	{"e empty", "", N_AS_IS, "", JWK_ERR_MALFORMED},
	{"e padded", "", N_AS_IS, "AQAB====", JWK_ERR_MALFORMED},
	{"e padded short", "", N_AS_IS, "AQ==", JWK_ERR_MALFORMED},
	{"e standard base64", "", N_AS_IS, "+Q", JWK_ERR_MALFORMED},
};

static void
test_key_table(void)
{
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++)
	{
		const key_case *c = &key_cases[i];
		char		text[4096];
		json_t	   *jwk;
		json_error_t err;
		EVP_PKEY   *pub = (EVP_PKEY *) 1;
		jwk_status	st;

		snprintf(text, sizeof(text),
				 "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}",
				 n_of(c->n), c->e ? c->e : "AQAB", c->extra);
		jwk = json_loads(text, 0, &err);
		UNIT_CHECK(jwk != NULL, "%s: test JSON parses", c->name);
		st = jwk_to_public_key(jwk, &pub);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   jwk_strerror(st), jwk_strerror(c->want));
		UNIT_CHECK((st == JWK_OK) == (pub != NULL), "%s: key iff OK",
				   c->name);
		UNIT_CHECK(ERR_peek_error() == 0, "%s: OpenSSL error queue clean",
				   c->name);
		EVP_PKEY_free(pub);
		json_decref(jwk);
	}
}

typedef struct shape_case
{
	const char *name;
	const char *json;
	jwk_status	want;
} shape_case;

static const shape_case shape_cases[] = {
	{"not an object", "[\"RSA\"]", JWK_ERR_MALFORMED},
	{"kty missing", "{\"n\":\"AQAB\",\"e\":\"AQAB\"}", JWK_ERR_MALFORMED},
	{"kty a number", "{\"kty\":1}", JWK_ERR_MALFORMED},
	{"kty rsa", "{\"kty\":\"rsa\"}", JWK_ERR_KTY},
	{"kty EC", "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
	JWK_ERR_KTY},
	{"kty oct", "{\"kty\":\"oct\"}", JWK_ERR_KTY},
	{"n missing", "{\"kty\":\"RSA\",\"e\":\"AQAB\"}", JWK_ERR_MALFORMED},
	{"n a number", "{\"kty\":\"RSA\",\"n\":12345,\"e\":\"AQAB\"}",
	JWK_ERR_MALFORMED},
	{"n empty", "{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}",
	JWK_ERR_MALFORMED},
	{"e missing", "{\"kty\":\"RSA\",\"n\":\"AQAB\"}", JWK_ERR_MALFORMED},
};

static void
test_shape_table(void)
{
	for (size_t i = 0; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++)
	{
		const shape_case *c = &shape_cases[i];
		json_error_t err;
		json_t	   *jwk = json_loads(c->json, 0, &err);
		EVP_PKEY   *pub = NULL;
		jwk_status	st;

		st = jwk_to_public_key(jwk, &pub);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   jwk_strerror(st), jwk_strerror(c->want));
		EVP_PKEY_free(pub);
		json_decref(jwk);
	}
	{
		EVP_PKEY   *pub = NULL;

		UNIT_CHECK(jwk_to_public_key(NULL, &pub) == JWK_ERR_MALFORMED,
				   "NULL JWK");
	}
}

/* ---- JWK Sets ------------------------------------------------------------- */

/* The public JWK of a key as JSON text (malloc'd). */
static char *
jwk_text(EVP_PKEY *key, const char *kid)
{
	json_t	   *jwk = NULL;
	char	   *s;

	jwk_from_public_key(key, kid, &jwk);
	s = json_dumps(jwk, JSON_COMPACT);
	json_decref(jwk);
	return s;
}

static EVP_PKEY *
jwt_lookup_shim(void *arg, const char *kid)
{
	/* jwk_set_lookup has exactly jwt_key_lookup's type */
	jwt_key_lookup f = jwk_set_lookup;

	return f(arg, kid);
}

static void
test_set_lookup(void)
{
	char	   *a = jwk_text(key_a, "k1");
	char	   *b = jwk_text(key_b, "k2");
	char		text[8192];
	jwk_set    *set = NULL;
	jwk_status	st;
	char		tok[4096];
	size_t		toklen;
	json_t	   *claims;
	jwt_token	t;
	jwt_policy	p = {.now = 1700000000};

	snprintf(text, sizeof(text), "{\"keys\":[%s,%s]}", a, b);
	st = jwk_set_parse(text, strlen(text), &set);
	UNIT_CHECK(st == JWK_OK, "set: parse (%s)", jwk_strerror(st));
	UNIT_CHECK(jwk_set_count(set) == 2, "set: two keys");
	UNIT_CHECK(jwk_set_lookup(set, "k1") != NULL &&
			   EVP_PKEY_eq(jwk_set_lookup(set, "k1"), key_a) == 1,
			   "set: k1 is key a");
	UNIT_CHECK(jwk_set_lookup(set, "k2") != NULL &&
			   EVP_PKEY_eq(jwk_set_lookup(set, "k2"), key_b) == 1,
			   "set: k2 is key b");
	UNIT_CHECK(jwk_set_lookup(set, "k3") == NULL, "set: unknown kid");
	UNIT_CHECK(jwk_set_lookup(set, "k") == NULL, "set: kid prefix");
	UNIT_CHECK(jwk_set_lookup(set, "") == NULL, "set: empty kid");
	UNIT_CHECK(jwk_set_lookup(set, NULL) == NULL, "set: NULL kid");
	UNIT_CHECK(jwk_set_lookup(NULL, "k1") == NULL, "set: NULL set");

	/* the set is the lookup of jwt_verify */
	claims = json_pack("{s:s, s:I, s:I}", "sub", "alice",
					   "iat", (json_int_t) 1699999990,
					   "exp", (json_int_t) 1700000600);
	jwt_sign_rs256(key_b, "k2", claims, tok, sizeof(tok), &toklen);
	UNIT_CHECK(jwt_verify(tok, toklen, 0, jwt_lookup_shim, set, &p, &t) ==
			   JWT_OK, "set: verifies a k2 token");
	jwt_token_free(&t);
	jwt_sign_rs256(key_a, "k2", claims, tok, sizeof(tok), &toklen);
	UNIT_CHECK(jwt_verify(tok, toklen, 0, jwk_set_lookup, set, &p, &t) ==
			   JWT_ERR_SIGNATURE, "set: k1's signature under kid k2");
	json_decref(claims);

	jwk_set_free(set);
	jwk_set_free(NULL);
	UNIT_CHECK(jwk_set_count(NULL) == 0, "set: count of NULL");
	free(a);
	free(b);
}

typedef struct set_case
{
	const char *name;
	const char *fmt;			/* %1$s: key a as "k1", %2$s: key b as "k2" */
	size_t		want_count;
	jwk_status	want;
} set_case;

#define EC_PUB "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e1\"," \
	"\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"," \
	"\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"

static const set_case set_cases[] = {
	{"two keys", "{\"keys\":[%1$s,%2$s]}", 2, JWK_OK},
	{"empty set", "{\"keys\":[]}", 0, JWK_OK},
	{"other top-level members", "{\"keys\":[%1$s],\"x\":1}", 1, JWK_OK},
	{"EC key skipped", "{\"keys\":[" EC_PUB ",%1$s]}", 1, JWK_OK},
	{"oct key without k skipped", "{\"keys\":[{\"kty\":\"OKP\"},%1$s]}", 1,
	JWK_OK},
	{"encryption key skipped", "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\","
	"\"kid\":\"x\",\"n\":\"AQAB\",\"e\":\"AQAB\"},%1$s]}", 1, JWK_OK},
	{"RS384 key skipped", "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS384\","
	"\"kid\":\"x\",\"n\":\"AQAB\",\"e\":\"AQAB\"},%1$s]}", 1, JWK_OK},
	{"same kid on a skipped key", "{\"keys\":[{\"kty\":\"EC\","
	"\"kid\":\"k1\"},%1$s]}", 1, JWK_OK},
	{"duplicate kid", "{\"keys\":[%1$s,%1$s]}", 0, JWK_ERR_DUPLICATE_KID},
	{"kid missing", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\","
	"\"e\":\"AQAB\"}]}", 0, JWK_ERR_KID},
	{"kid empty", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"\",\"n\":\"AQAB\","
	"\"e\":\"AQAB\"}]}", 0, JWK_ERR_KID},
	{"small modulus", "{\"keys\":[%1$s,{\"kty\":\"RSA\",\"kid\":\"s\","
	"\"n\":\"" "AQAB" "\",\"e\":\"AQAB\"}]}", 0, JWK_ERR_KEY_SIZE},
	{"n a number", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"s\",\"n\":1,"
	"\"e\":\"AQAB\"}]}", 0, JWK_ERR_MALFORMED},
	{"private RSA key", "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"s\","
	"\"n\":\"AQAB\",\"e\":\"AQAB\",\"d\":\"AQAB\"}]}", 0, JWK_ERR_PRIVATE},
	{"private EC key (skipped kind)", "{\"keys\":[%1$s,{\"kty\":\"EC\","
	"\"d\":\"AA\"}]}", 0, JWK_ERR_PRIVATE},
	{"symmetric key", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", 0,
	JWK_ERR_PRIVATE},
	{"keys not an array", "{\"keys\":%1$s}", 0, JWK_ERR_MALFORMED},
	{"keys missing", "{\"key\":[%1$s]}", 0, JWK_ERR_MALFORMED},
	{"root an array", "[%1$s]", 0, JWK_ERR_MALFORMED},
	{"element not an object", "{\"keys\":[%1$s,\"k2\"]}", 0,
	JWK_ERR_MALFORMED},
	{"element null", "{\"keys\":[null]}", 0, JWK_ERR_MALFORMED},
	{"duplicate member", "{\"keys\":[{\"kty\":\"RSA\",\"kty\":\"EC\"}]}", 0,
	JWK_ERR_MALFORMED},
	{"duplicate keys member", "{\"keys\":[],\"keys\":[%1$s]}", 0,
	JWK_ERR_MALFORMED},
	{"not JSON", "keys: []", 0, JWK_ERR_MALFORMED},
	{"trailing data", "{\"keys\":[]} {}", 0, JWK_ERR_MALFORMED},
	{"empty text", "", 0, JWK_ERR_MALFORMED},
};

static void
test_set_table(void)
{
	char	   *a = jwk_text(key_a, "k1");
	char	   *b = jwk_text(key_b, "k2");

	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++)
	{
		const set_case *c = &set_cases[i];
		char		text[16384];
		jwk_set    *set = (jwk_set *) 1;
		jwk_status	st;

		snprintf(text, sizeof(text), c->fmt, a, b);
		st = jwk_set_parse(text, strlen(text), &set);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   jwk_strerror(st), jwk_strerror(c->want));
		UNIT_CHECK((st == JWK_OK) == (set != NULL), "%s: set iff OK",
				   c->name);
		UNIT_CHECK(jwk_set_count(set) == c->want_count, "%s: %zu keys",
				   c->name, jwk_set_count(set));
		if (st == JWK_OK && c->want_count > 0)
			UNIT_CHECK(jwk_set_lookup(set, "k1") != NULL, "%s: k1 found",
					   c->name);
		UNIT_CHECK(ERR_peek_error() == 0, "%s: OpenSSL error queue clean",
				   c->name);
		jwk_set_free(set);
	}
	free(a);
	free(b);
}

static void
test_set_limits(void)
{
	char	   *a = jwk_text(key_a, "k1");
	size_t		alen = strlen(a);
	char	   *text = malloc(JWK_SET_MAX_LEN + 1000);
	size_t		o;
	jwk_set    *set = NULL;

	/* JWK_SET_MAX_KEYS + 1 EC keys: refused by count, not content */
	o = (size_t) sprintf(text, "{\"keys\":[");
	for (int i = 0; i <= JWK_SET_MAX_KEYS; i++)
		o += (size_t) sprintf(text + o, "%s{\"kty\":\"EC\"}", i ? "," : "");
	o += (size_t) sprintf(text + o, "]}");
	UNIT_CHECK(jwk_set_parse(text, o, &set) == JWK_ERR_TOO_LARGE &&
			   set == NULL, "set: %d keys refused", JWK_SET_MAX_KEYS + 1);

	o = (size_t) sprintf(text, "{\"keys\":[%s],\"pad\":\"", a);
	memset(text + o, 'x', JWK_SET_MAX_LEN);
	o = JWK_SET_MAX_LEN + 1 - 2;
	memcpy(text + o, "\"}", 2);
	o += 2;
	UNIT_CHECK(jwk_set_parse(text, o, &set) == JWK_ERR_TOO_LARGE,
			   "set: %zu bytes refused", o);
	o -= 3;
	memcpy(text + o, "\"}", 2);
	o += 2;
	UNIT_CHECK(jwk_set_parse(text, o, &set) == JWK_OK &&
			   jwk_set_count(set) == 1, "set: %zu bytes accepted", o);
	jwk_set_free(set);
	UNIT_CHECK(jwk_set_parse(NULL, 0, &set) == JWK_ERR_MALFORMED,
			   "set: NULL text");
	UNIT_CHECK(jwk_set_parse("{\"keys\":[]}\0", 12, &set) ==
			   JWK_ERR_MALFORMED, "set: NUL after the JSON");
	(void) alen;
	free(text);
	free(a);
}

static void
test_strerror(void)
{
	for (int s = JWK_OK; s <= JWK_ERR_SPACE; s++)
	{
		const char *m = jwk_strerror((jwk_status) s);

		UNIT_CHECK(m != NULL && strncmp(m, "unknown", 7) != 0,
				   "strerror %d has a message", s);
		for (int o = JWK_OK; o < s; o++)
			UNIT_CHECK(strcmp(m, jwk_strerror((jwk_status) o)) != 0,
					   "strerror %d differs from %d", s, o);
	}
}

int
main(void)
{
	key_a = EVP_RSA_gen(2048);
	key_b = EVP_RSA_gen(2048);
	key_weak = EVP_RSA_gen(1024);
	key_ec = EVP_EC_gen("P-256");

	test_round_trip();
	test_from_public_key_errors();
	test_rfc7638_thumbprint();
	test_key_table();
	test_shape_table();
	test_set_lookup();
	test_set_table();
	test_set_limits();
	test_strerror();

	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_weak);
	EVP_PKEY_free(key_ec);
	return UNIT_MAIN_END();
}
