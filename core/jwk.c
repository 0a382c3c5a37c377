/*
 * jwk.c
 *		RSA JWKs, JWK Sets and RFC 7638 thumbprints (see jwk.h).
 *
 * Keys are built from n and e with OSSL_PARAM_BLD and EVP_PKEY_fromdata, so
 * they are provider-native and need no deprecated RSA_* calls. Big integers
 * are decoded into stack buffers sized by the largest modulus accepted, and
 * their base64url length is checked before decoding, so an oversized member
 * costs nothing. Errors OpenSSL queues on the way are popped again before
 * returning; the caller's error handling never sees them.
 *
 * A set is a plain array searched linearly: sets hold a handful of keys
 * (JWK_SET_MAX_KEYS at most) and a strcmp per key is cheaper than hashing.
 */
#include "jwk.h"

#include "b64url.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#define JWK_N_MAX_BYTES		(JWK_RSA_MAX_BITS / 8)
#define JWK_E_MAX_BYTES		8

/* Base64url lengths of the largest n and e, with a terminator. */
#define JWK_N_B64_SIZE		((JWK_N_MAX_BYTES + 2) / 3 * 4 + 1)
#define JWK_E_B64_SIZE		((JWK_E_MAX_BYTES + 2) / 3 * 4 + 1)

typedef struct jwk_entry
{
	char	   *kid;
	EVP_PKEY   *key;
} jwk_entry;

struct jwk_set
{
	size_t		count;
	jwk_entry  *entries;
};

/*
 * Members that mean a private or symmetric key: RFC 7518 sections 6.3.2
 * (RSA), 6.2.2 (EC "d") and 6.4 (oct "k"). OKP private keys are "d" too.
 */
static const char *const jwk_private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k"
};
#define JWK_N_PRIVATE_MEMBERS \
	(sizeof(jwk_private_members) / sizeof(jwk_private_members[0]))

/* Compares a JSON string with a C string, embedded NULs included. */
static int
jwk_str_eq(const json_t *v, const char *s)
{
	size_t		n = strlen(s);

	return json_is_string(v) && json_string_length(v) == n &&
		memcmp(json_string_value(v), s, n) == 0;
}

/*
 * Classifies a JWK before any key material is read: JWK_OK for an RSA
 * signature key warden can use, JWK_ERR_KTY/ALG/USE for a key of another
 * kind (a set skips those), any other status for a key that must never be
 * accepted.
 */
static jwk_status
jwk_classify(const json_t *jwk)
{
	const json_t *v;
	size_t		i;
	int			verify;

	if (!json_is_object(jwk))
		return JWK_ERR_MALFORMED;
	for (i = 0; i < JWK_N_PRIVATE_MEMBERS; i++)
		if (json_object_get(jwk, jwk_private_members[i]) != NULL)
			return JWK_ERR_PRIVATE;

	v = json_object_get(jwk, "kty");
	if (!json_is_string(v))
		return JWK_ERR_MALFORMED;
	if (!jwk_str_eq(v, "RSA"))
		return JWK_ERR_KTY;

	v = json_object_get(jwk, "alg");
	if (v != NULL && !json_is_string(v))
		return JWK_ERR_MALFORMED;
	if (v != NULL && !jwk_str_eq(v, "RS256"))
		return JWK_ERR_ALG;

	v = json_object_get(jwk, "use");
	if (v != NULL && !json_is_string(v))
		return JWK_ERR_MALFORMED;
	if (v != NULL && !jwk_str_eq(v, "sig"))
		return JWK_ERR_USE;

	v = json_object_get(jwk, "key_ops");
	if (v != NULL)
	{
		if (!json_is_array(v))
			return JWK_ERR_MALFORMED;
		verify = 0;
		for (i = 0; i < json_array_size(v); i++)
		{
			const json_t *op = json_array_get(v, i);

			if (!json_is_string(op))
				return JWK_ERR_MALFORMED;
			if (jwk_str_eq(op, "verify"))
				verify = 1;
		}
		if (!verify)
			return JWK_ERR_USE;
	}

	v = json_object_get(jwk, "kid");
	if (v != NULL && !json_is_string(v))
		return JWK_ERR_KID;
	return JWK_OK;
}

/*
 * Decodes a base64url unsigned integer member (RFC 7518 section 2,
 * "Base64urlUInt": minimal, so no leading zero octet) of at most maxbytes
 * bytes; a longer one is `too_big`.
 */
static jwk_status
jwk_get_uint(const json_t *v, size_t maxbytes, jwk_status too_big,
			 unsigned char *buf, size_t *len)
{
	size_t		slen;

	*len = 0;
	if (!json_is_string(v))
		return JWK_ERR_MALFORMED;
	slen = json_string_length(v);
	if (slen == 0)
		return JWK_ERR_MALFORMED;
	if (slen > b64url_encoded_len(maxbytes))
		return too_big;
	if (b64url_decode(json_string_value(v), slen, buf, maxbytes, len) !=
		B64URL_OK)
		return JWK_ERR_MALFORMED;
	if (*len == 0 || buf[0] == 0)
		return JWK_ERR_MALFORMED;
	return JWK_OK;
}

/* Builds a provider-native RSA public key from n and e. */
static jwk_status
jwk_build_rsa(const BIGNUM *n, const BIGNUM *e, EVP_PKEY **out)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	jwk_status	st = JWK_ERR_CRYPTO;

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto done;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params == NULL)
		goto done;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
		EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto done;
	st = JWK_OK;

done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return st;
}

jwk_status
jwk_to_public_key(const json_t *jwk, EVP_PKEY **out)
{
	unsigned char nbuf[JWK_N_MAX_BYTES];
	unsigned char ebuf[JWK_E_MAX_BYTES];
	size_t		nlen;
	size_t		elen;
	BIGNUM	   *n = NULL;
	BIGNUM	   *e = NULL;
	jwk_status	st;
	int			bits;
	unsigned int top;

	*out = NULL;
	st = jwk_classify(jwk);
	if (st != JWK_OK)
		return st;
	st = jwk_get_uint(json_object_get(jwk, "n"), JWK_N_MAX_BYTES,
					  JWK_ERR_KEY_SIZE, nbuf, &nlen);
	if (st != JWK_OK)
		return st;
	st = jwk_get_uint(json_object_get(jwk, "e"), JWK_E_MAX_BYTES,
					  JWK_ERR_EXPONENT, ebuf, &elen);
	if (st != JWK_OK)
		return st;

	/* Cheap checks on the bytes before OpenSSL sees them. */
	bits = (int) (nlen - 1) * 8;
	for (top = nbuf[0]; top != 0; top >>= 1)
		bits++;
	if (bits < JWK_RSA_MIN_BITS || bits > JWK_RSA_MAX_BITS)
		return JWK_ERR_KEY_SIZE;
	if ((nbuf[nlen - 1] & 1) == 0)
		return JWK_ERR_MALFORMED;	/* an RSA modulus is odd */
	if ((ebuf[elen - 1] & 1) == 0 || (elen == 1 && ebuf[0] == 1))
		return JWK_ERR_EXPONENT;

	ERR_set_mark();
	st = JWK_ERR_NOMEM;
	n = BN_bin2bn(nbuf, (int) nlen, NULL);
	e = BN_bin2bn(ebuf, (int) elen, NULL);
	if (n != NULL && e != NULL)
		st = jwk_build_rsa(n, e, out);
	BN_free(n);
	BN_free(e);
	ERR_pop_to_mark();
	return st;
}

/* Checks that a key is RSA and within the sizes warden accepts. */
static jwk_status
jwk_check_rsa(const EVP_PKEY *pub, int min_bits)
{
	int			bits;

	if (pub == NULL || !EVP_PKEY_is_a(pub, "RSA"))
		return JWK_ERR_KTY;
	bits = EVP_PKEY_get_bits(pub);
	if (bits < min_bits || bits > JWK_RSA_MAX_BITS)
		return JWK_ERR_KEY_SIZE;
	return JWK_OK;
}

/* Base64url of one big-integer parameter of a key, minimal. */
static jwk_status
jwk_param_b64(const EVP_PKEY *pub, const char *name, size_t maxbytes,
			  char *out, size_t outsize)
{
	unsigned char buf[JWK_N_MAX_BYTES];
	BIGNUM	   *bn = NULL;
	size_t		len;
	size_t		olen;
	jwk_status	st = JWK_ERR_CRYPTO;

	if (EVP_PKEY_get_bn_param(pub, name, &bn) != 1 || bn == NULL)
		goto done;
	if (BN_is_zero(bn) || BN_is_negative(bn) ||
		(size_t) BN_num_bytes(bn) > maxbytes)
	{
		st = JWK_ERR_EXPONENT;	/* only e can be this odd: n was sized */
		goto done;
	}
	len = (size_t) BN_bn2bin(bn, buf);
	if (b64url_encode(buf, len, out, outsize, &olen) != B64URL_OK)
		goto done;
	st = JWK_OK;

done:
	BN_free(bn);
	return st;
}

jwk_status
jwk_thumbprint(const EVP_PKEY *pub, char *out, size_t outsize)
{
	char		n64[JWK_N_B64_SIZE];
	char		e64[JWK_E_B64_SIZE];
	char		canon[sizeof(n64) + sizeof(e64) + 32];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t		nlen;
	size_t		elen;
	size_t		clen;
	size_t		olen;
	jwk_status	st;

	if (outsize > 0)
		out[0] = '\0';
	st = jwk_check_rsa(pub, 1);
	if (st != JWK_OK)
		return st;
	if (outsize < JWK_THUMBPRINT_LEN + 1)
		return JWK_ERR_SPACE;

	ERR_set_mark();
	st = jwk_param_b64(pub, OSSL_PKEY_PARAM_RSA_N, JWK_N_MAX_BYTES,
					   n64, sizeof(n64));
	if (st == JWK_OK)
		st = jwk_param_b64(pub, OSSL_PKEY_PARAM_RSA_E, JWK_E_MAX_BYTES,
						   e64, sizeof(e64));
	if (st == JWK_OK)
	{
		/*
		 * RFC 7638 section 3.2: the required members only, in
		 * lexicographic order, no white space. Base64url needs no JSON
		 * escaping, so the text can be assembled directly.
		 */
		nlen = strlen(n64);
		elen = strlen(e64);
		clen = 0;
		memcpy(canon + clen, "{\"e\":\"", 6);
		clen += 6;
		memcpy(canon + clen, e64, elen);
		clen += elen;
		memcpy(canon + clen, "\",\"kty\":\"RSA\",\"n\":\"", 19);
		clen += 19;
		memcpy(canon + clen, n64, nlen);
		clen += nlen;
		memcpy(canon + clen, "\"}", 2);
		clen += 2;

		if (EVP_Digest(canon, clen, md, &mdlen, EVP_sha256(), NULL) != 1 ||
			mdlen != 32 ||
			b64url_encode(md, mdlen, out, outsize, &olen) != B64URL_OK)
			st = JWK_ERR_CRYPTO;
	}
	ERR_pop_to_mark();
	return st;
}

jwk_status
jwk_from_public_key(const EVP_PKEY *pub, const char *kid, json_t **out)
{
	char		n64[JWK_N_B64_SIZE];
	char		e64[JWK_E_B64_SIZE];
	char		thumb[JWK_THUMBPRINT_LEN + 1];
	json_t	   *jwk = NULL;
	json_t	   *jkid = NULL;
	jwk_status	st;

	*out = NULL;
	st = jwk_check_rsa(pub, JWK_RSA_MIN_BITS);
	if (st != JWK_OK)
		return st;
	if (kid == NULL)
	{
		st = jwk_thumbprint(pub, thumb, sizeof(thumb));
		if (st != JWK_OK)
			return st;
		kid = thumb;
	}
	if (*kid == '\0')
		return JWK_ERR_KID;

	ERR_set_mark();
	st = jwk_param_b64(pub, OSSL_PKEY_PARAM_RSA_N, JWK_N_MAX_BYTES,
					   n64, sizeof(n64));
	if (st == JWK_OK)
		st = jwk_param_b64(pub, OSSL_PKEY_PARAM_RSA_E, JWK_E_MAX_BYTES,
						   e64, sizeof(e64));
	ERR_pop_to_mark();
	if (st != JWK_OK)
		return st;

	/* json_string refuses text that is not UTF-8: a kid must be text. */
	jkid = json_string(kid);
	if (jkid == NULL)
		return JWK_ERR_KID;
	jwk = json_object();
	if (jwk == NULL ||
		json_object_set_new(jwk, "kty", json_string("RSA")) != 0 ||
		json_object_set_new(jwk, "use", json_string("sig")) != 0 ||
		json_object_set_new(jwk, "alg", json_string("RS256")) != 0 ||
		json_object_set(jwk, "kid", jkid) != 0 ||
		json_object_set_new(jwk, "n", json_string(n64)) != 0 ||
		json_object_set_new(jwk, "e", json_string(e64)) != 0)
	{
		json_decref(jkid);
		json_decref(jwk);
		return JWK_ERR_NOMEM;
	}
	json_decref(jkid);
	*out = jwk;
	return JWK_OK;
}

jwk_status
jwk_set_parse(const char *json, size_t len, jwk_set **out)
{
	json_t	   *root = NULL;
	json_t	   *keys;
	jwk_set    *set = NULL;
	json_error_t err;
	jwk_status	st;
	size_t		nkeys;
	size_t		i;
	size_t		j;

	*out = NULL;
	if (json == NULL)
		return JWK_ERR_MALFORMED;
	if (len > JWK_SET_MAX_LEN)
		return JWK_ERR_TOO_LARGE;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		return json_error_code(&err) == json_error_out_of_memory ?
			JWK_ERR_NOMEM : JWK_ERR_MALFORMED;
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys))
	{
		st = JWK_ERR_MALFORMED;
		goto fail;
	}
	nkeys = json_array_size(keys);
	if (nkeys > JWK_SET_MAX_KEYS)
	{
		st = JWK_ERR_TOO_LARGE;
		goto fail;
	}

	st = JWK_ERR_NOMEM;
	set = calloc(1, sizeof(*set));
	if (set == NULL)
		goto fail;
	if (nkeys > 0)
	{
		set->entries = calloc(nkeys, sizeof(*set->entries));
		if (set->entries == NULL)
			goto fail;
	}

	for (i = 0; i < nkeys; i++)
	{
		const json_t *jwk = json_array_get(keys, i);
		const json_t *kid;
		jwk_entry  *ent;

		st = jwk_classify(jwk);
		if (st == JWK_ERR_KTY || st == JWK_ERR_ALG || st == JWK_ERR_USE)
			continue;			/* a key for something else: not ours */
		if (st != JWK_OK)
			goto fail;

		kid = json_object_get(jwk, "kid");
		if (!json_is_string(kid) || json_string_length(kid) == 0 ||
			strlen(json_string_value(kid)) != json_string_length(kid))
		{
			st = JWK_ERR_KID;
			goto fail;
		}
		for (j = 0; j < set->count; j++)
			if (strcmp(set->entries[j].kid, json_string_value(kid)) == 0)
			{
				st = JWK_ERR_DUPLICATE_KID;
				goto fail;
			}

		ent = &set->entries[set->count];
		st = jwk_to_public_key(jwk, &ent->key);
		if (st != JWK_OK)
			goto fail;
		ent->kid = strdup(json_string_value(kid));
		set->count++;			/* counted now so fail frees the key */
		if (ent->kid == NULL)
		{
			st = JWK_ERR_NOMEM;
			goto fail;
		}
	}

	json_decref(root);
	*out = set;
	return JWK_OK;

fail:
	jwk_set_free(set);
	json_decref(root);
	return st;
}

EVP_PKEY *
jwk_set_lookup(void *arg, const char *kid)
{
	const jwk_set *set = arg;
	size_t		i;

	if (set == NULL || kid == NULL)
		return NULL;
	for (i = 0; i < set->count; i++)
		if (strcmp(set->entries[i].kid, kid) == 0)
			return set->entries[i].key;
	return NULL;
}

size_t
jwk_set_count(const jwk_set *set)
{
	return set == NULL ? 0 : set->count;
}

void
jwk_set_free(jwk_set *set)
{
	size_t		i;

	if (set == NULL)
		return;
	for (i = 0; i < set->count; i++)
	{
		free(set->entries[i].kid);
		EVP_PKEY_free(set->entries[i].key);
	}
	free(set->entries);
	free(set);
}

const char *
jwk_strerror(jwk_status status)
{
	switch (status)
	{
		case JWK_OK:
			return "success";
		case JWK_ERR_MALFORMED:
			return "malformed JSON Web Key";
		case JWK_ERR_KTY:
			return "key type is not RSA";
		case JWK_ERR_ALG:
			return "key algorithm is not RS256";
		case JWK_ERR_USE:
			return "key is not for signature verification";
		case JWK_ERR_PRIVATE:
			return "key contains private or symmetric key material";
		case JWK_ERR_KEY_SIZE:
			return "RSA modulus must be 2048 to 8192 bits";
		case JWK_ERR_EXPONENT:
			return "invalid RSA public exponent";
		case JWK_ERR_KID:
			return "key id missing or invalid";
		case JWK_ERR_DUPLICATE_KID:
			return "two keys share a key id";
		case JWK_ERR_TOO_LARGE:
			return "key set too large";
		case JWK_ERR_NOMEM:
			return "out of memory";
		case JWK_ERR_CRYPTO:
			return "cryptographic library failure";
		case JWK_ERR_SPACE:
			return "output buffer too small";
	}
	return "unknown JSON Web Key error";
}
