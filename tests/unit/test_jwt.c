/*
 * test_jwt.c
 *		Tests of core/jwt: the RS256 example of RFC 7515 Appendix A.2,
 *		sign-then-verify round trips with fresh keys, and a hostile corpus
 *		in which every row names the attack or defect and the status that
 *		must refuse it.
 */
#include "unit.h"

#include "b64url.h"
#include "jwk.h"
#include "jwt.h"

#include <stdint.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/*
 * RFC 7515 Appendix A.2: the RSA key (A.2.1, as a JWK in the RFC) and the
 * complete JWS of A.2.1 (header {"alg":"RS256"}, the "joe" payload).
 */
static const char *const a2_n =
"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrc"
"S2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGz"
"jb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xs"
"mtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8"
"q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char *const a2_e = "AQAB";
static const char *const a2_d =
"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeX"
"Zx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFN"
"S3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4e"
"hNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS9"
"8l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
static const char *const a2_p =
"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3Khoo"
"KeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPg"
"tldC-KDV5z-y2XDwGUc";
static const char *const a2_q =
"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zF"
"YHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBype"
"eF6689rjcJIDEz9RWdc";
static const char *const a2_dp =
"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBf"
"pT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5"
"Mbr1C1XsmvkxHQAdYo0";
static const char *const a2_dq =
"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrm"
"I2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLB"
"Sp3nssTdlqvd0tIiTHU";
static const char *const a2_qi =
"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7"
"fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2"
"-ZQwVK0JKSHuLFkuQ3U";
static const char *const a2_jws =
"eyJhbGciOiJSUzI1NiJ9"
"."
"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9p"
"c19yb290Ijp0cnVlfQ"
"."
"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Q"
"c_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTy"
"WzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwu"
"sC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5A"
"XLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/* The keys of the tests; "k1" and "k2" are fresh 2048-bit keys. */
static EVP_PKEY *key_a2;		/* RFC 7515 A.2, private */
static EVP_PKEY *key_a;			/* kid "k1" */
static EVP_PKEY *key_b;			/* kid "k2" */
static EVP_PKEY *key_weak;		/* kid "weak": RSA-1024 */
static EVP_PKEY *key_ec;		/* kid "ec": P-256 */

static EVP_PKEY *
keyring_lookup(void *arg, const char *kid)
{
	(void) arg;
	if (strcmp(kid, "k1") == 0)
		return key_a;
	if (strcmp(kid, "k2") == 0)
		return key_b;
	if (strcmp(kid, "a2") == 0)
		return key_a2;
	if (strcmp(kid, "weak") == 0)
		return key_weak;
	if (strcmp(kid, "ec") == 0)
		return key_ec;
	return NULL;
}

static BIGNUM *
bn_b64(const char *s)
{
	unsigned char buf[1024];
	size_t		len;

	if (b64url_decode(s, strlen(s), buf, sizeof(buf), &len) != B64URL_OK)
		return NULL;
	return BN_bin2bn(buf, (int) len, NULL);
}

/* Builds the A.2 private key from its JWK members (test data only). */
static EVP_PKEY *
a2_private_key(void)
{
	const char *const vals[] = {a2_n, a2_e, a2_d, a2_p, a2_q, a2_dp, a2_dq,
	a2_qi};
	const char *const names[] = {
		OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1
	};
	BIGNUM	   *bns[8] = {0};
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY   *pkey = NULL;

	for (int i = 0; i < 8; i++)
	{
		bns[i] = bn_b64(vals[i]);
		OSSL_PARAM_BLD_push_BN(bld, names[i], bns[i]);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < 8; i++)
		BN_free(bns[i]);
	return pkey;
}

static const jwt_policy base_policy = {
	.issuer = "https://issuer.example",
	.audience = "warden",
	.now = 1700000000,
	.leeway = 60,
	.require_jti = true,
};

/* ---- building tokens with any header, payload and signature ---------- */

typedef enum signer
{
	SIGN_A,						/* RS256 with key "k1" */
	SIGN_B,						/* RS256 with key "k2" */
	SIGN_EMPTY,					/* no signature at all */
	SIGN_JUNK,					/* 256 bytes of 0x41 */
	SIGN_HS_PEM,				/* HS256 keyed with k1's public key, PEM */
	SIGN_HS_DER,				/* HS256 keyed with k1's public key, DER */
	SIGN_HUGE					/* 2000 bytes: longer than any key makes */
} signer;

static size_t
b64(const void *src, size_t n, char *out, size_t outsize)
{
	size_t		len = 0;

	b64url_encode(src, n, out, outsize, &len);
	return len;
}

static void
rs256_raw(EVP_PKEY *key, const char *input, size_t len, unsigned char *sig,
		  size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	*siglen = 1024;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
		EVP_DigestSign(md, sig, siglen, (const unsigned char *) input,
					   len) != 1)
		*siglen = 0;
	EVP_MD_CTX_free(md);
}

/* The HMAC key of the classic confusion attack: the verifier's public key. */
static size_t
public_key_bytes(EVP_PKEY *key, int pem, unsigned char *out, size_t outsize)
{
	size_t		n = 0;

	if (pem)
	{
		BIO		   *bio = BIO_new(BIO_s_mem());
		char	   *data;
		long		len;

		PEM_write_bio_PUBKEY(bio, key);
		len = BIO_get_mem_data(bio, &data);
		if (len > 0 && (size_t) len <= outsize)
		{
			memcpy(out, data, (size_t) len);
			n = (size_t) len;
		}
		BIO_free(bio);
	}
	else
	{
		unsigned char *der = NULL;
		int			len = i2d_PUBKEY(key, &der);

		if (len > 0 && (size_t) len <= outsize)
		{
			memcpy(out, der, (size_t) len);
			n = (size_t) len;
		}
		OPENSSL_free(der);
	}
	return n;
}

/* header.payload.signature with the given signer; returns the length. */
static size_t
build_token(const char *header, size_t hlen, const char *payload, size_t plen,
			signer s, char *out, size_t outsize)
{
	unsigned char sig[2048];
	size_t		siglen = 0;
	size_t		o;

	o = b64(header, hlen, out, outsize);
	out[o++] = '.';
	o += b64(payload, plen, out + o, outsize - o);

	switch (s)
	{
		case SIGN_A:
			rs256_raw(key_a, out, o, sig, &siglen);
			break;
		case SIGN_B:
			rs256_raw(key_b, out, o, sig, &siglen);
			break;
		case SIGN_EMPTY:
			break;
		case SIGN_JUNK:
			memset(sig, 0x41, 256);
			siglen = 256;
			break;
		case SIGN_HS_PEM:
		case SIGN_HS_DER:
			{
				unsigned char pk[4096];
				size_t		pklen = public_key_bytes(key_a, s == SIGN_HS_PEM,
													 pk, sizeof(pk));
				unsigned int maclen = 0;

				HMAC(EVP_sha256(), pk, (int) pklen, (unsigned char *) out, o,
					 sig, &maclen);
				siglen = maclen;
			}
			break;
		case SIGN_HUGE:
			memset(sig, 0x42, 2000);
			siglen = 2000;
			break;
	}
	out[o++] = '.';
	o += b64(sig, siglen, out + o, outsize - o);
	out[o] = '\0';
	return o;
}

/* ---- RFC 7515 Appendix A.2 ------------------------------------------- */

static void
test_rfc7515_a2(void)
{
	jwt_token	t;
	jwt_status	st;
	json_t	   *jwk;
	EVP_PKEY   *pub = NULL;
	unsigned char sig[1024];
	size_t		siglen;
	char		sig64[2048];
	const char *dot2 = strrchr(a2_jws, '.');

	UNIT_CHECK(key_a2 != NULL, "a2: private key built from the RFC values");

	/* the public half, the way warden gets keys: from a JWK */
	jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", a2_n, "e", a2_e);
	UNIT_CHECK(jwk_to_public_key(jwk, &pub) == JWK_OK, "a2: public key");
	json_decref(jwk);

	st = jwt_parse(a2_jws, strlen(a2_jws), 0, &t);
	UNIT_CHECK(st == JWT_OK, "a2: parse status %s", jwt_strerror(st));
	UNIT_CHECK(t.kid == NULL, "a2: the example has no kid");
	UNIT_CHECK(t.sig_len == 256, "a2: signature of 256 bytes");
	UNIT_CHECK(t.signing_input_len == (size_t) (dot2 - a2_jws),
			   "a2: signing input ends at the second dot");
	UNIT_CHECK(json_is_true(json_object_get(t.claims,
											"http://example.com/is_root")),
			   "a2: claims parsed");
	UNIT_CHECK(json_integer_value(json_object_get(t.claims, "exp")) ==
			   1300819380, "a2: exp");

	st = jwt_verify_signature(a2_jws, &t, pub);
	UNIT_CHECK(st == JWT_OK, "a2: signature verifies with the RFC key (%s)",
			   jwt_strerror(st));
	st = jwt_verify_signature(a2_jws, &t, key_a2);
	UNIT_CHECK(st == JWT_OK, "a2: and with the private key object (%s)",
			   jwt_strerror(st));
	st = jwt_verify_signature(a2_jws, &t, key_a);
	UNIT_CHECK(st == JWT_ERR_SIGNATURE, "a2: not with another key (%s)",
			   jwt_strerror(st));
	jwt_token_free(&t);
	UNIT_CHECK(t.header == NULL && t.claims == NULL, "a2: freed and zeroed");

	/* PKCS #1 v1.5 is deterministic: the key re-creates the signature */
	rs256_raw(key_a2, a2_jws, (size_t) (dot2 - a2_jws), sig, &siglen);
	b64(sig, siglen, sig64, sizeof(sig64));
	UNIT_CHECK(strcmp(sig64, dot2 + 1) == 0,
			   "a2: signing the input reproduces the RFC signature");

	/* jwt_verify insists on a kid; the RFC example has none */
	st = jwt_verify(a2_jws, strlen(a2_jws), 0, keyring_lookup, NULL,
					&base_policy, &t);
	UNIT_CHECK(st == JWT_ERR_UNKNOWN_KEY, "a2: jwt_verify without kid: %s",
			   jwt_strerror(st));
	UNIT_CHECK(t.header == NULL, "a2: failed verify leaves out zeroed");

	EVP_PKEY_free(pub);
}

/* ---- round trips ------------------------------------------------------ */

static json_t *
good_claims(void)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
					 "iss", "https://issuer.example", "aud", "warden",
					 "sub", "alice", "iat", (json_int_t) 1699999990,
					 "exp", (json_int_t) 1700000600, "jti", "j-1",
					 "role", "warden_user");
}

static void
test_round_trip(void)
{
	EVP_PKEY   *keys[] = {key_a, key_b, key_a2};
	const char *kids[] = {"k1", "k2", "a2"};

	for (int i = 0; i < 3; i++)
	{
		json_t	   *claims = good_claims();
		char		tok[4096];
		size_t		len = 0;
		jwt_token	t;
		jwt_status	st;

		st = jwt_sign_rs256(keys[i], kids[i], claims, tok, sizeof(tok), &len);
		UNIT_CHECK(st == JWT_OK, "round trip %s: sign status %s", kids[i],
				   jwt_strerror(st));
		UNIT_CHECK(len == strlen(tok), "round trip %s: length", kids[i]);
		UNIT_CHECK(strncmp(tok, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6",
						   44) == 0,
				   "round trip %s: header {\"alg\":\"RS256\",\"typ\":\"JWT\","
				   "\"kid\":... compact", kids[i]);

		st = jwt_verify(tok, len, 0, keyring_lookup, NULL, &base_policy, &t);
		UNIT_CHECK(st == JWT_OK, "round trip %s: verify status %s", kids[i],
				   jwt_strerror(st));
		UNIT_CHECK(t.kid != NULL && strcmp(t.kid, kids[i]) == 0,
				   "round trip %s: kid", kids[i]);
		UNIT_CHECK(json_equal(t.claims, claims), "round trip %s: claims",
				   kids[i]);
		UNIT_CHECK(json_object_size(t.header) == 3, "round trip %s: header",
				   kids[i]);
		jwt_token_free(&t);
		json_decref(claims);
	}
}

static void
test_sign_errors(void)
{
	json_t	   *claims = good_claims();
	json_t	   *arr = json_array();
	json_t	   *big = good_claims();
	char	   *pad = malloc(20000);
	char		tok[4096];
	char		bigtok[32768];
	size_t		len;
	size_t		need;
	jwt_status	st;

	st = jwt_sign_rs256(key_a, "k1", claims, tok, sizeof(tok), &need);
	UNIT_CHECK(st == JWT_OK, "sign: baseline");
	st = jwt_sign_rs256(key_a, "k1", claims, tok, need + 1, &len);
	UNIT_CHECK(st == JWT_OK && len == need, "sign: exact buffer (%s)",
			   jwt_strerror(st));
	st = jwt_sign_rs256(key_a, "k1", claims, tok, need, &len);
	UNIT_CHECK(st == JWT_ERR_SPACE && len == 0 && tok[0] == '\0',
			   "sign: one byte short (%s)", jwt_strerror(st));
	UNIT_CHECK(jwt_sign_rs256(key_a, NULL, claims, tok, sizeof(tok), &len) ==
			   JWT_ERR_UNKNOWN_KEY, "sign: no kid");
	UNIT_CHECK(jwt_sign_rs256(key_a, "", claims, tok, sizeof(tok), &len) ==
			   JWT_ERR_UNKNOWN_KEY, "sign: empty kid");
	UNIT_CHECK(jwt_sign_rs256(key_a, "\xff", claims, tok, sizeof(tok), &len) ==
			   JWT_ERR_UNKNOWN_KEY, "sign: kid not UTF-8");
	UNIT_CHECK(jwt_sign_rs256(key_a, "k1", arr, tok, sizeof(tok), &len) ==
			   JWT_ERR_CLAIMS, "sign: claims not an object");
	UNIT_CHECK(jwt_sign_rs256(key_a, "k1", NULL, tok, sizeof(tok), &len) ==
			   JWT_ERR_CLAIMS, "sign: no claims");
	UNIT_CHECK(jwt_sign_rs256(key_weak, "weak", claims, tok, sizeof(tok),
							  &len) == JWT_ERR_KEY, "sign: RSA-1024 refused");
	UNIT_CHECK(jwt_sign_rs256(key_ec, "ec", claims, tok, sizeof(tok), &len) ==
			   JWT_ERR_KEY, "sign: EC key refused");
	UNIT_CHECK(jwt_sign_rs256(NULL, "k1", claims, tok, sizeof(tok), &len) ==
			   JWT_ERR_KEY, "sign: no key");

	/* whatever is signed must stay verifiable: nothing over JWT_MAX_LEN */
	memset(pad, 'p', 20000);
	json_object_set_new(big, "pad", json_stringn(pad, 12000));
	UNIT_CHECK(jwt_sign_rs256(key_a, "k1", big, bigtok, sizeof(bigtok),
							  &len) == JWT_ERR_TOO_LARGE,
			   "sign: token over JWT_MAX_LEN refused");
	json_object_set_new(big, "pad", json_stringn(pad, 11000));
	st = jwt_sign_rs256(key_a, "k1", big, bigtok, sizeof(bigtok), &len);
	UNIT_CHECK(st == JWT_OK && len <= JWT_MAX_LEN,
			   "sign: token just under JWT_MAX_LEN (%s, %zu)",
			   jwt_strerror(st), len);
	if (st == JWT_OK)
	{
		jwt_token	t;

		st = jwt_verify(bigtok, len, 0, keyring_lookup, NULL, &base_policy,
						&t);
		UNIT_CHECK(st == JWT_OK, "sign: the large token verifies (%s)",
				   jwt_strerror(st));
		jwt_token_free(&t);
		st = jwt_verify(bigtok, len, len - 1, keyring_lookup, NULL,
						&base_policy, &t);
		UNIT_CHECK(st == JWT_ERR_TOO_LARGE, "verify: caller's limit (%s)",
				   jwt_strerror(st));
	}

	free(pad);
	json_decref(big);
	json_decref(arr);
	json_decref(claims);
}

/* ---- the hostile corpus ------------------------------------------------ */

#define H_OK "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define P_ISS "\"iss\":\"https://issuer.example\""
#define P_AUD "\"aud\":\"warden\""
#define P_SUB "\"sub\":\"alice\""
#define P_IAT "\"iat\":1699999990"
#define P_EXP "\"exp\":1700000600"
#define P_JTI "\"jti\":\"j-1\""
#define P_OK "{" P_ISS "," P_AUD "," P_SUB "," P_IAT "," P_EXP "," P_JTI "}"
/* the same claims without the members a row replaces */
#define P_NO_EXP "{" P_ISS "," P_AUD "," P_SUB "," P_IAT "," P_JTI
#define P_NO_TIMES "{" P_ISS "," P_AUD "," P_SUB "," P_JTI
#define P_NO_AUD "{" P_ISS "," P_SUB "," P_IAT "," P_EXP "," P_JTI
#define P_NO_ISS "{" P_AUD "," P_SUB "," P_IAT "," P_EXP "," P_JTI
#define P_NO_SUB "{" P_ISS "," P_AUD "," P_IAT "," P_EXP "," P_JTI

typedef enum mutation
{
	MUT_NONE,
	MUT_SIG_TRUNCATE,			/* drop the last byte of the signature */
	MUT_SIG_EXTEND,				/* append "AAAA" (3 zero bytes) */
	MUT_SIG_FLIP,				/* flip one bit of the signature */
	MUT_PAYLOAD_SWAP,			/* replace the payload after signing */
	MUT_APPEND_SEGMENT,			/* append ".e30" */
	MUT_NUL_IN_PAYLOAD			/* a NUL byte inside the token text */
} mutation;

typedef struct hostile_case
{
	const char *name;
	const char *header;
	size_t		hlen;			/* 0: strlen */
	const char *payload;
	size_t		plen;			/* 0: strlen */
	signer		sign;
	mutation	mut;
	jwt_status	want;
} hostile_case;

static const hostile_case hostile_cases[] = {
	{"baseline", H_OK, 0, P_OK, 0, SIGN_A, MUT_NONE, JWT_OK},
	{"baseline with key k2", "{\"alg\":\"RS256\",\"kid\":\"k2\"}", 0, P_OK, 0,
	SIGN_B, MUT_NONE, JWT_OK},

	/* structure */
	{"four segments", H_OK, 0, P_OK, 0, SIGN_A, MUT_APPEND_SEGMENT,
	JWT_ERR_MALFORMED},
	{"empty signature segment", H_OK, 0, P_OK, 0, SIGN_EMPTY, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"header not JSON", "alg: RS256", 0, P_OK, 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"header is an array", "[\"alg\",\"RS256\"]", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_MALFORMED},
	{"header is a string", "\"RS256\"", 0, P_OK, 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"header with trailing data", H_OK " {}", 0, P_OK, 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"header empty JSON text", " ", 0, P_OK, 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"payload is an array", H_OK, 0, "[1,2]", 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"payload not JSON", H_OK, 0, "sub=alice", 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},

	/* algorithm */
	{"alg none, empty signature", "{\"alg\":\"none\",\"kid\":\"k1\"}", 0,
	P_OK, 0, SIGN_EMPTY, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg none, junk signature", "{\"alg\":\"none\",\"kid\":\"k1\"}", 0,
	P_OK, 0, SIGN_JUNK, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg None", "{\"alg\":\"None\",\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_JUNK,
	MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg HS256 keyed with the PEM public key",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", 0, P_OK, 0,
	SIGN_HS_PEM, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg HS256 keyed with the DER public key",
		"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", 0, P_OK, 0,
	SIGN_HS_DER, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg rs256 lower case", "{\"alg\":\"rs256\",\"kid\":\"k1\"}", 0, P_OK, 0,
	SIGN_A, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg PS256", "{\"alg\":\"PS256\",\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg RS512", "{\"alg\":\"RS512\",\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg ES256", "{\"alg\":\"ES256\",\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg with trailing space", "{\"alg\":\"RS256 \",\"kid\":\"k1\"}", 0,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg as an array", "{\"alg\":[\"RS256\"],\"kid\":\"k1\"}", 0, P_OK, 0,
	SIGN_A, MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg missing", "{\"typ\":\"JWT\",\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_ALGORITHM},
	{"alg in the payload only", "{\"kid\":\"k1\"}", 0,
		"{\"alg\":\"RS256\"," P_ISS "," P_AUD "," P_SUB "," P_IAT "," P_EXP ","
	P_JTI "}", 0, SIGN_A, MUT_NONE, JWT_ERR_ALGORITHM},
	{"duplicate alg, none last", "{\"alg\":\"RS256\",\"alg\":\"none\","
	"\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"duplicate alg, same value", "{\"alg\":\"RS256\",\"alg\":\"RS256\","
	"\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},

	/* extensions and type */
	{"crit present", "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"exp\"],"
	"\"exp\":1}", 0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_CRIT},
	{"crit empty", "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[]}", 0, P_OK,
	0, SIGN_A, MUT_NONE, JWT_ERR_CRIT},
	{"unencoded payload (b64 false)", "{\"alg\":\"RS256\",\"kid\":\"k1\","
	"\"b64\":false,\"crit\":[\"b64\"]}", 0, P_OK, 0, SIGN_A, MUT_NONE,
	JWT_ERR_CRIT},
	{"typ at+jwt", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", 0,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_OK},
	{"typ application/at+JWT", "{\"alg\":\"RS256\",\"typ\":"
	"\"application/at+JWT\",\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A, MUT_NONE,
	JWT_OK},
	{"typ jwt lower case", "{\"alg\":\"RS256\",\"typ\":\"jwt\",\"kid\":\"k1\"}",
	0, P_OK, 0, SIGN_A, MUT_NONE, JWT_OK},
	{"typ dpop+jwt", "{\"alg\":\"RS256\",\"typ\":\"dpop+jwt\",\"kid\":\"k1\"}",
	0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_TYPE},
	{"typ logout+jwt", "{\"alg\":\"RS256\",\"typ\":\"logout+jwt\","
	"\"kid\":\"k1\"}", 0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_TYPE},
	{"typ as a number", "{\"alg\":\"RS256\",\"typ\":1,\"kid\":\"k1\"}", 0,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_TYPE},

	/* key */
	{"kid unknown", "{\"alg\":\"RS256\",\"kid\":\"k9\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_UNKNOWN_KEY},
	{"kid missing", "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_UNKNOWN_KEY},
	{"kid a number", "{\"alg\":\"RS256\",\"kid\":1}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_UNKNOWN_KEY},
	{"kid empty", "{\"alg\":\"RS256\",\"kid\":\"\"}", 0, P_OK, 0, SIGN_A,
	MUT_NONE, JWT_ERR_UNKNOWN_KEY},
	{"kid names an RSA-1024 key", "{\"alg\":\"RS256\",\"kid\":\"weak\"}", 0,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_KEY},
	{"kid names an EC key", "{\"alg\":\"RS256\",\"kid\":\"ec\"}", 0, P_OK, 0,
	SIGN_A, MUT_NONE, JWT_ERR_KEY},
	{"jwk header ignored", "{\"alg\":\"RS256\",\"kid\":\"k2\",\"jwk\":"
	"{\"kty\":\"RSA\"}}", 0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_SIGNATURE},

	/* signature */
	{"signature truncated", H_OK, 0, P_OK, 0, SIGN_A, MUT_SIG_TRUNCATE,
	JWT_ERR_SIGNATURE},
	{"signature extended", H_OK, 0, P_OK, 0, SIGN_A, MUT_SIG_EXTEND,
	JWT_ERR_SIGNATURE},
	{"signature one bit flipped", H_OK, 0, P_OK, 0, SIGN_A, MUT_SIG_FLIP,
	JWT_ERR_SIGNATURE},
	{"signature junk", H_OK, 0, P_OK, 0, SIGN_JUNK, MUT_NONE,
	JWT_ERR_SIGNATURE},
	{"signature longer than any key", H_OK, 0, P_OK, 0, SIGN_HUGE, MUT_NONE,
	JWT_ERR_SIGNATURE},
	{"payload altered after signing", H_OK, 0, P_OK, 0, SIGN_A,
	MUT_PAYLOAD_SWAP, JWT_ERR_SIGNATURE},
	{"signature from another key", H_OK, 0, P_OK, 0, SIGN_B, MUT_NONE,
	JWT_ERR_SIGNATURE},
	{"HS256 signature under alg RS256", H_OK, 0, P_OK, 0, SIGN_HS_PEM,
	MUT_NONE, JWT_ERR_SIGNATURE},

	/* time */
	{"exp in the past", H_OK, 0, P_NO_EXP ",\"exp\":1699996400}", 0, SIGN_A,
	MUT_NONE, JWT_ERR_EXPIRED},
	{"exp within the leeway", H_OK, 0, P_NO_EXP ",\"exp\":1699999970}", 0,
	SIGN_A, MUT_NONE, JWT_OK},
	{"exp at the leeway's edge", H_OK, 0, P_NO_EXP ",\"exp\":1699999940}", 0,
	SIGN_A, MUT_NONE, JWT_ERR_EXPIRED},
	{"exp one second inside the leeway", H_OK, 0,
	P_NO_EXP ",\"exp\":1699999941}", 0, SIGN_A, MUT_NONE, JWT_OK},
	{"exp as a real", H_OK, 0, P_NO_EXP ",\"exp\":1700000600.5}", 0, SIGN_A,
	MUT_NONE, JWT_OK},
	{"exp as a real in the past", H_OK, 0, P_NO_EXP ",\"exp\":1.0e9}", 0,
	SIGN_A, MUT_NONE, JWT_ERR_EXPIRED},
	{"exp huge real", H_OK, 0, P_NO_EXP ",\"exp\":1e300}", 0, SIGN_A,
	MUT_NONE, JWT_OK},
	{"exp negative", H_OK, 0, P_NO_EXP ",\"exp\":-9223372036854775807}", 0,
	SIGN_A, MUT_NONE, JWT_ERR_EXPIRED},
	{"exp as a string", H_OK, 0, P_NO_EXP ",\"exp\":\"1700000600\"}", 0,
	SIGN_A, MUT_NONE, JWT_ERR_CLAIMS},
	{"exp as a boolean", H_OK, 0, P_NO_EXP ",\"exp\":true}", 0, SIGN_A,
	MUT_NONE, JWT_ERR_CLAIMS},
	{"exp too big for an integer", H_OK, 0,
	P_NO_EXP ",\"exp\":99999999999999999999}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"exp missing", H_OK, 0, P_NO_EXP "}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_CLAIMS},
	{"nbf in the future", H_OK, 0, P_NO_EXP ",\"exp\":1700000600,"
	"\"nbf\":1700003600}", 0, SIGN_A, MUT_NONE, JWT_ERR_NOT_YET_VALID},
	{"nbf within the leeway", H_OK, 0, P_NO_EXP ",\"exp\":1700000600,"
	"\"nbf\":1700000030}", 0, SIGN_A, MUT_NONE, JWT_OK},
	{"nbf as a string", H_OK, 0, P_NO_EXP ",\"exp\":1700000600,"
	"\"nbf\":\"0\"}", 0, SIGN_A, MUT_NONE, JWT_ERR_CLAIMS},
	{"iat in the future", H_OK, 0, P_NO_TIMES ",\"exp\":1700007200,"
	"\"iat\":1700003600}", 0, SIGN_A, MUT_NONE, JWT_ERR_NOT_YET_VALID},
	{"iat within the leeway", H_OK, 0, P_NO_TIMES ",\"exp\":1700007200,"
	"\"iat\":1700000050}", 0, SIGN_A, MUT_NONE, JWT_OK},
	{"iat missing", H_OK, 0, P_NO_TIMES ",\"exp\":1700007200}", 0, SIGN_A,
	MUT_NONE, JWT_ERR_CLAIMS},

	/* issuer and audience */
	{"iss wrong", H_OK, 0, P_NO_ISS ",\"iss\":\"https://evil.example\"}", 0,
	SIGN_A, MUT_NONE, JWT_ERR_ISSUER},
	{"iss with a trailing slash", H_OK, 0,
	P_NO_ISS ",\"iss\":\"https://issuer.example/\"}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_ISSUER},
	{"iss missing", H_OK, 0, P_NO_ISS "}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_ISSUER},
	{"iss a number", H_OK, 0, P_NO_ISS ",\"iss\":7}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_CLAIMS},
	{"aud wrong", H_OK, 0, P_NO_AUD ",\"aud\":\"other\"}", 0, SIGN_A,
	MUT_NONE, JWT_ERR_AUDIENCE},
	{"aud array containing ours", H_OK, 0,
	P_NO_AUD ",\"aud\":[\"other\",\"warden\"]}", 0, SIGN_A, MUT_NONE, JWT_OK},
	{"aud array without ours", H_OK, 0,
	P_NO_AUD ",\"aud\":[\"other\",\"warden2\"]}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_AUDIENCE},
	{"aud empty array", H_OK, 0, P_NO_AUD ",\"aud\":[]}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_AUDIENCE},
	{"aud array with a number", H_OK, 0,
	P_NO_AUD ",\"aud\":[\"warden\",1]}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_CLAIMS},
	{"aud an object", H_OK, 0, P_NO_AUD ",\"aud\":{\"warden\":1}}", 0, SIGN_A,
	MUT_NONE, JWT_ERR_CLAIMS},
	{"aud missing", H_OK, 0, P_NO_AUD "}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_AUDIENCE},

	/* other claims */
	{"sub missing", H_OK, 0, P_NO_SUB "}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_CLAIMS},
	{"sub a number", H_OK, 0, P_NO_SUB ",\"sub\":42}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_CLAIMS},
	{"sub empty", H_OK, 0, P_NO_SUB ",\"sub\":\"\"}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_CLAIMS},
	{"jti missing", H_OK, 0, "{" P_ISS "," P_AUD "," P_SUB "," P_IAT ","
	P_EXP "}", 0, SIGN_A, MUT_NONE, JWT_ERR_CLAIMS},
	{"duplicate sub", H_OK, 0, "{\"sub\":\"alice\"," P_ISS "," P_AUD ","
		P_IAT "," P_EXP "," P_JTI ",\"sub\":\"admin\"}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},

	/* bytes that are not text */
	{"NUL inside the header JSON", "{\"alg\":\"RS256\",\"kid\":\"k1\"}\0", 27,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"NUL inside a header string", "{\"alg\":\"RS256\",\"kid\":\"k1\0x\"}", 28,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"escaped NUL in sub", H_OK, 0, P_NO_SUB ",\"sub\":\"alice\\u0000admin\"}",
	0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"NUL byte in the token text", H_OK, 0, P_OK, 0, SIGN_A,
	MUT_NUL_IN_PAYLOAD, JWT_ERR_MALFORMED},
	{"non-UTF-8 in the header", "{\"alg\":\"RS256\",\"kid\":\"k\xff\"}", 0,
	P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"overlong UTF-8 in the header", "{\"alg\":\"RS256\",\"kid\":\"\xc0\xaf\"}",
	0, P_OK, 0, SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"non-UTF-8 in the payload", H_OK, 0,
	P_NO_SUB ",\"sub\":\"al\xe9ice\"}", 0, SIGN_A, MUT_NONE,
	JWT_ERR_MALFORMED},
	{"lone surrogate escape", H_OK, 0, P_NO_SUB ",\"sub\":\"\\ud800\"}", 0,
	SIGN_A, MUT_NONE, JWT_ERR_MALFORMED},
	{"UTF-8 sub", H_OK, 0, P_NO_SUB ",\"sub\":\"Zo\xc3\xab\"}", 0, SIGN_A,
	MUT_NONE, JWT_OK},
};

/* Raw token texts: structure and encoding defects. */
typedef struct raw_case
{
	const char *name;
	const char *token;
	size_t		len;			/* 0: strlen */
	jwt_status	want;
} raw_case;

static const raw_case raw_cases[] = {
	{"empty token", "", 0, JWT_ERR_MALFORMED},
	{"one segment", "eyJhbGciOiJSUzI1NiJ9", 0, JWT_ERR_MALFORMED},
	{"two segments", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0", 0,
	JWT_ERR_MALFORMED},
	{"two segments and a dot", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.", 0,
	JWT_ERR_MALFORMED},
	{"five segments (JWE)", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", 0,
	JWT_ERR_MALFORMED},
	{"only dots", "..", 0, JWT_ERR_MALFORMED},
	{"empty header", ".eyJzdWIiOiJ4In0.c2ln", 0, JWT_ERR_MALFORMED},
	{"empty payload", "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0..c2ln", 0,
	JWT_ERR_MALFORMED},
	{"padded header", "eyJhbGciOiJSUzI1NiJ9==.eyJzdWIiOiJ4In0.c2ln", 0,
	JWT_ERR_MALFORMED},
	{"standard base64 in header", "eyJhbGciOiJSUzI1NiJ9+/.e30.c2ln", 0,
	JWT_ERR_MALFORMED},
	{"space in header", "eyJhbGciOiJS UzI1NiJ9.e30.c2ln", 0,
	JWT_ERR_MALFORMED},
	{"header of impossible length", "eyJhbG.e30.c2ln", 0, JWT_ERR_MALFORMED},
	{"non-canonical base64url", "eyJhbGciOiJSUzI1NiJ9.e31.c2ln", 0,
	JWT_ERR_MALFORMED},
	{"leading NUL", "\0eyJhbGciOiJSUzI1NiJ9.e30.c2ln", 29, JWT_ERR_MALFORMED},
	{"high bytes", "\xff\xfe.\xff.\xff", 0, JWT_ERR_MALFORMED},
};

/* The signature segment of a token: start and length. */
static const char *
sig_segment(const char *tok, size_t len, size_t *siglen)
{
	const char *dot = memrchr(tok, '.', len);

	*siglen = len - (size_t) (dot + 1 - tok);
	return dot + 1;
}

static size_t
apply_mutation(const hostile_case *c, char *tok, size_t len, size_t size)
{
	size_t		siglen;
	char	   *sig = (char *) sig_segment(tok, len, &siglen);

	switch (c->mut)
	{
		case MUT_NONE:
			break;
		case MUT_SIG_TRUNCATE:
			{
				unsigned char raw[1024];
				size_t		rlen;

				b64url_decode(sig, siglen, raw, sizeof(raw), &rlen);
				len = (size_t) (sig - tok) +
					b64(raw, rlen - 1, sig, size - (size_t) (sig - tok));
			}
			break;
		case MUT_SIG_EXTEND:
			memcpy(tok + len, "AAAA", 4);
			len += 4;
			break;
		case MUT_SIG_FLIP:
			{
				unsigned char raw[1024];
				size_t		rlen;

				b64url_decode(sig, siglen, raw, sizeof(raw), &rlen);
				raw[rlen / 2] ^= 0x10;
				b64(raw, rlen, sig, size - (size_t) (sig - tok));
			}
			break;
		case MUT_PAYLOAD_SWAP:
			{
				/* same header, sub "admin": keep the old signature */
				char		other[4096];
				size_t		olen;
				const char *p = P_NO_SUB ",\"sub\":\"admin\"}";
				char		keep[1024];

				memcpy(keep, sig, siglen);
				keep[siglen] = '\0';
				olen = build_token(c->header, strlen(c->header), p, strlen(p),
								   SIGN_EMPTY, other, sizeof(other));
				memcpy(tok, other, olen);
				memcpy(tok + olen, keep, siglen);
				len = olen + siglen;
			}
			break;
		case MUT_APPEND_SEGMENT:
			memcpy(tok + len, ".e30", 4);
			len += 4;
			break;
		case MUT_NUL_IN_PAYLOAD:
			{
				char	   *dot = memchr(tok, '.', len);

				dot[3] = '\0';
			}
			break;
	}
	tok[len] = '\0';
	return len;
}

static void
test_hostile_table(void)
{
	for (size_t i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++)
	{
		const hostile_case *c = &hostile_cases[i];
		char		tok[8192];
		size_t		len;
		jwt_token	t;
		jwt_status	st;

		len = build_token(c->header, c->hlen ? c->hlen : strlen(c->header),
						  c->payload, c->plen ? c->plen : strlen(c->payload),
						  c->sign, tok, sizeof(tok));
		len = apply_mutation(c, tok, len, sizeof(tok));

		memset(&t, 0x5A, sizeof(t));	/* out is overwritten, never read */
		st = jwt_verify(tok, len, 0, keyring_lookup, NULL, &base_policy, &t);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   jwt_strerror(st), jwt_strerror(c->want));
		if (st == JWT_OK)
			UNIT_CHECK(t.header != NULL && t.claims != NULL,
					   "%s: header and claims returned", c->name);
		else
			UNIT_CHECK(t.header == NULL && t.claims == NULL && t.kid == NULL,
					   "%s: out zeroed on failure", c->name);
		UNIT_CHECK(ERR_peek_error() == 0,
				   "%s: OpenSSL error queue left clean", c->name);
		jwt_token_free(&t);
	}
}

/* The same hostile table through prepared verifiers (jwt_verify_prepared). */
static jwt_verifier *ver_a;
static jwt_verifier *ver_b;
static jwt_verifier *ver_a2;

static jwt_verifier *
verifier_lookup(void *arg, const char *kid)
{
	(void) arg;
	if (strcmp(kid, "k1") == 0)
		return ver_a;
	if (strcmp(kid, "k2") == 0)
		return ver_b;
	if (strcmp(kid, "a2") == 0)
		return ver_a2;
	return NULL;				/* weak and EC keys cannot be prepared */
}

static void
test_prepared(void)
{
	jwt_verifier *v = NULL;

	UNIT_CHECK(jwt_verifier_new(key_a, &ver_a) == JWT_OK, "prepare k1");
	UNIT_CHECK(jwt_verifier_new(key_b, &ver_b) == JWT_OK, "prepare k2");
	UNIT_CHECK(jwt_verifier_new(key_a2, &ver_a2) == JWT_OK, "prepare a2");
	UNIT_CHECK(jwt_verifier_key(ver_a) == key_a, "verifier keeps its key");
	UNIT_CHECK(jwt_verifier_new(key_weak, &v) == JWT_ERR_KEY && v == NULL,
			   "a 1024-bit key is not prepared");
	UNIT_CHECK(jwt_verifier_new(key_ec, &v) == JWT_ERR_KEY && v == NULL,
			   "an EC key is not prepared");
	UNIT_CHECK(jwt_verifier_new(NULL, &v) == JWT_ERR_KEY, "no key");

	for (size_t i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++)
	{
		const hostile_case *c = &hostile_cases[i];
		char		tok[8192];
		size_t		len;
		jwt_token	t;
		jwt_status	st;
		jwt_status	want = c->want == JWT_ERR_KEY ? JWT_ERR_UNKNOWN_KEY : c->want;

		len = build_token(c->header, c->hlen ? c->hlen : strlen(c->header),
						  c->payload, c->plen ? c->plen : strlen(c->payload),
						  c->sign, tok, sizeof(tok));
		len = apply_mutation(c, tok, len, sizeof(tok));
		/* twice: a verifier is reused across calls */
		for (int round = 0; round < 2; round++)
		{
			st = jwt_verify_prepared(tok, len, 0, verifier_lookup, NULL,
									 &base_policy, &t);
			UNIT_CHECK(st == want, "%s (prepared, round %d): got \"%s\", want \"%s\"",
					   c->name, round, jwt_strerror(st), jwt_strerror(want));
			UNIT_CHECK(ERR_peek_error() == 0,
					   "%s (prepared): OpenSSL error queue left clean", c->name);
			jwt_token_free(&t);
		}
	}
	jwt_verifier_free(ver_a);
	jwt_verifier_free(ver_b);
	jwt_verifier_free(ver_a2);
	jwt_verifier_free(NULL);
}

static void
test_raw_table(void)
{
	for (size_t i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++)
	{
		const raw_case *c = &raw_cases[i];
		size_t		len = c->len ? c->len : strlen(c->token);
		jwt_token	t;
		jwt_status	st;

		st = jwt_verify(c->token, len, 0, keyring_lookup, NULL, &base_policy,
						&t);
		UNIT_CHECK(st == c->want, "%s: verify got \"%s\", want \"%s\"",
				   c->name, jwt_strerror(st), jwt_strerror(c->want));
		st = jwt_parse(c->token, len, 0, &t);
		UNIT_CHECK(st == c->want, "%s: parse got \"%s\", want \"%s\"",
				   c->name, jwt_strerror(st), jwt_strerror(c->want));
		jwt_token_free(&t);
	}
}

/* Size limits: the caller's, the hard cap, and a header over both. */
static void
test_size_limits(void)
{
	char	   *header = malloc(20000);
	char	   *tok = malloc(40000);
	size_t		hlen;
	size_t		len;
	jwt_token	t;
	jwt_status	st;

	hlen = (size_t) snprintf(header, 20000,
							 "{\"alg\":\"RS256\",\"kid\":\"k1\",\"pad\":\"");
	memset(header + hlen, 'x', 14000);
	hlen += 14000;
	memcpy(header + hlen, "\"}", 3);
	hlen += 2;
	len = build_token(header, hlen, P_OK, strlen(P_OK), SIGN_A, tok, 40000);
	st = jwt_verify(tok, len, 0, keyring_lookup, NULL, &base_policy, &t);
	UNIT_CHECK(st == JWT_ERR_TOO_LARGE, "huge header: got \"%s\"",
			   jwt_strerror(st));
	st = jwt_verify(tok, len, 100000, keyring_lookup, NULL, &base_policy, &t);
	UNIT_CHECK(st == JWT_ERR_TOO_LARGE,
			   "huge header: a larger caller limit does not lift the cap");
	st = jwt_parse(tok, len, 0, &t);
	UNIT_CHECK(st == JWT_ERR_TOO_LARGE, "huge header: parse too");

	len = build_token(H_OK, strlen(H_OK), P_OK, strlen(P_OK), SIGN_A, tok,
					  40000);
	st = jwt_verify(tok, len, len, keyring_lookup, NULL, &base_policy, &t);
	UNIT_CHECK(st == JWT_OK, "limit equal to the length: %s",
			   jwt_strerror(st));
	jwt_token_free(&t);
	st = jwt_verify(tok, len, len - 1, keyring_lookup, NULL, &base_policy, &t);
	UNIT_CHECK(st == JWT_ERR_TOO_LARGE, "limit one below the length: %s",
			   jwt_strerror(st));
	free(header);
	free(tok);
}

/* A valid signature does not make claims valid, and vice versa. */
static void
test_policy_variants(void)
{
	char		tok[4096];
	size_t		len;
	jwt_token	t;
	jwt_policy	p = base_policy;
	const char *no_jti = "{" P_ISS "," P_AUD "," P_SUB "," P_IAT "," P_EXP "}";

	len = build_token(H_OK, strlen(H_OK), no_jti, strlen(no_jti), SIGN_A, tok,
					  sizeof(tok));
	p.require_jti = false;
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, &p, &t) == JWT_OK,
			   "jti not required: accepted without jti");
	jwt_token_free(&t);

	p = base_policy;
	p.issuer = NULL;
	p.audience = NULL;
	p.require_jti = false;
	len = build_token(H_OK, strlen(H_OK), no_jti, strlen(no_jti), SIGN_A, tok,
					  sizeof(tok));
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, &p, &t) == JWT_OK,
			   "no issuer/audience policy: accepted");
	jwt_token_free(&t);

	p = base_policy;
	p.leeway = -100;			/* counts as 0 */
	p.now = 1700000600;			/* exactly exp */
	len = build_token(H_OK, strlen(H_OK), P_OK, strlen(P_OK), SIGN_A, tok,
					  sizeof(tok));
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, &p, &t) ==
			   JWT_ERR_EXPIRED, "now == exp: expired");
	p.now = 1700000599;
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, &p, &t) ==
			   JWT_OK, "now == exp - 1: valid");
	jwt_token_free(&t);
	p.now = INT64_MIN;
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, &p, &t) ==
			   JWT_ERR_NOT_YET_VALID, "now at INT64_MIN: not yet valid");
	p.now = INT64_MAX;
	p.leeway = INT64_MAX;
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, &p, &t) ==
			   JWT_OK, "saturating leeway: no overflow");
	jwt_token_free(&t);

	UNIT_CHECK(jwt_verify(tok, len, 0, NULL, NULL, &base_policy, &t) ==
			   JWT_ERR_UNKNOWN_KEY, "no lookup function");
	UNIT_CHECK(jwt_verify(NULL, 0, 0, keyring_lookup, NULL, &base_policy,
						  &t) == JWT_ERR_MALFORMED, "NULL token");
	UNIT_CHECK(jwt_verify(tok, len, 0, keyring_lookup, NULL, NULL, &t) ==
			   JWT_ERR_CLAIMS, "no policy");
}

/* The pieces jwt_verify is made of are usable on their own. */
static void
test_parse_then_verify(void)
{
	char		tok[4096];
	size_t		len;
	jwt_token	t;
	jwt_token	zero;

	len = build_token(H_OK, strlen(H_OK), P_OK, strlen(P_OK), SIGN_A, tok,
					  sizeof(tok));
	UNIT_CHECK(jwt_parse(tok, len, 0, &t) == JWT_OK, "pieces: parse");
	UNIT_CHECK(jwt_verify_signature(tok, &t, key_a) == JWT_OK,
			   "pieces: signature with k1");
	UNIT_CHECK(jwt_verify_signature(tok, &t, key_b) == JWT_ERR_SIGNATURE,
			   "pieces: signature with k2");
	UNIT_CHECK(jwt_verify_signature(tok, &t, NULL) == JWT_ERR_UNKNOWN_KEY,
			   "pieces: no key");
	UNIT_CHECK(jwt_verify_signature(tok, &t, key_weak) == JWT_ERR_KEY,
			   "pieces: RSA-1024 key refused");
	UNIT_CHECK(jwt_verify_signature(tok, &t, key_ec) == JWT_ERR_KEY,
			   "pieces: EC key refused");
	UNIT_CHECK(jwt_check_claims(&t, &base_policy) == JWT_OK,
			   "pieces: claims");
	jwt_token_free(&t);
	jwt_token_free(&t);
	jwt_token_free(NULL);
	memset(&zero, 0, sizeof(zero));
	jwt_token_free(&zero);
	UNIT_CHECK(jwt_check_claims(&zero, &base_policy) == JWT_ERR_CLAIMS,
			   "pieces: claims of an empty token");
}

static void
test_strerror(void)
{
	for (int s = JWT_OK; s <= JWT_ERR_SPACE; s++)
	{
		const char *m = jwt_strerror((jwt_status) s);

		UNIT_CHECK(m != NULL && strncmp(m, "unknown", 7) != 0,
				   "strerror %d has a message", s);
		for (int o = JWT_OK; o < s; o++)
			UNIT_CHECK(strcmp(m, jwt_strerror((jwt_status) o)) != 0,
					   "strerror %d differs from %d", s, o);
	}
}

int
main(void)
{
	key_a2 = a2_private_key();
	key_a = EVP_RSA_gen(2048);
	key_b = EVP_RSA_gen(2048);
	key_weak = EVP_RSA_gen(1024);
	key_ec = EVP_EC_gen("P-256");

	test_rfc7515_a2();
	test_round_trip();
	test_sign_errors();
	test_hostile_table();
	test_prepared();
	test_raw_table();
	test_size_limits();
	test_policy_variants();
	test_parse_then_verify();
	test_strerror();

	EVP_PKEY_free(key_a2);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_weak);
	EVP_PKEY_free(key_ec);
	return UNIT_MAIN_END();
}
