/*
 * jwt.c
 *		RS256 JSON Web Tokens (see jwt.h for the rules and their reasons).
 *
 * Parsing is split in two internal steps so jwt_verify can stop between
 * them: jwt_parse_protected judges what can be judged before the key is
 * known (structure, every segment's encoding, the header) and leaves the
 * decoded payload in the caller's buffer; jwt_verify hands it to the JSON
 * parser only once the signature has verified.
 *
 * Segments are decoded into a stack buffer big enough for any token under
 * JWT_MAX_LEN, so the only allocations on the verification path are
 * jansson's objects and OpenSSL's digest context. Errors OpenSSL queues
 * (a bad signature queues several) are popped again before returning, so
 * they never surface in the caller's own OpenSSL error handling.
 */
#include "jwt.h"

#include "b64url.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

/* Bytes any segment of a token under JWT_MAX_LEN decodes to, at most. */
#define JWT_SEGMENT_MAX		(JWT_MAX_LEN / 4 * 3)

/* Compares a JSON string with a C string, embedded NULs included. */
static bool
jwt_str_eq(const json_t *v, const char *s, size_t n)
{
	return json_is_string(v) && json_string_length(v) == n &&
		memcmp(json_string_value(v), s, n) == 0;
}

/*
 * Parses decoded segment bytes as a JSON object. Duplicate member names are
 * refused: with them, two parsers could read two different claim sets from
 * one signed token. jansson also refuses invalid UTF-8, NUL escapes and
 * numbers it cannot represent.
 */
static jwt_status
jwt_load_object(const unsigned char *buf, size_t len, json_t **out)
{
	json_error_t err;

	*out = NULL;
	/* jansson refuses raw NUL too; this keeps the rule independent of it */
	if (memchr(buf, '\0', len) != NULL)
		return JWT_ERR_MALFORMED;
	*out = json_loadb((const char *) buf, len, JSON_REJECT_DUPLICATES, &err);
	if (*out == NULL)
		return json_error_code(&err) == json_error_out_of_memory ?
			JWT_ERR_NOMEM : JWT_ERR_MALFORMED;
	if (!json_is_object(*out))
	{
		json_decref(*out);
		*out = NULL;
		return JWT_ERR_MALFORMED;
	}
	return JWT_OK;
}

/*
 * typ is optional (RFC 7519 section 5.1); when present it must say this is
 * a JWT or an OAuth access token (RFC 9068), so tokens minted for another
 * purpose by the same key (logout tokens, DPoP proofs) are not accepted as
 * logins. Media types are case-insensitive and may omit "application/".
 */
static bool
jwt_typ_ok(const json_t *typ)
{
	const char *s;
	size_t		n;

	if (!json_is_string(typ))
		return false;
	s = json_string_value(typ);
	n = json_string_length(typ);
	if (n > 12 && strncasecmp(s, "application/", 12) == 0)
	{
		s += 12;
		n -= 12;
	}
	return (n == 3 && strncasecmp(s, "JWT", 3) == 0) ||
		(n == 6 && strncasecmp(s, "at+jwt", 6) == 0);
}

/*
 * Everything judged before the key is known: size, three segments, the
 * header, then non-empty payload and signature and their encoding. The
 * payload is decoded into buf (JWT_SEGMENT_MAX bytes; *plen its length)
 * but not parsed.
 */
static jwt_status
jwt_parse_protected(const char *token, size_t len, size_t max_len,
					jwt_token *t, unsigned char *buf, size_t *plen)
{
	const char *dot1;
	const char *dot2;
	const char *sig;
	size_t		siglen;
	size_t		declen;
	const json_t *v;
	jwt_status	st;

	memset(t, 0, sizeof(*t));
	*plen = 0;
	if (max_len == 0 || max_len > JWT_MAX_LEN)
		max_len = JWT_MAX_LEN;
	if (token == NULL)
		return JWT_ERR_MALFORMED;
	if (len > max_len)
		return JWT_ERR_TOO_LARGE;

	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return JWT_ERR_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
	if (dot2 == NULL)
		return JWT_ERR_MALFORMED;
	sig = dot2 + 1;
	siglen = len - (size_t) (sig - token);
	if (dot1 == token || dot2 == dot1 + 1 || memchr(sig, '.', siglen) != NULL)
		return JWT_ERR_MALFORMED;

	if (b64url_decode(token, (size_t) (dot1 - token), buf, JWT_SEGMENT_MAX,
					  &declen) != B64URL_OK)
		return JWT_ERR_MALFORMED;
	st = jwt_load_object(buf, declen, &t->header);
	if (st != JWT_OK)
		return st;

	if (!jwt_str_eq(json_object_get(t->header, "alg"), "RS256", 5))
		return JWT_ERR_ALGORITHM;
	if (json_object_get(t->header, "crit") != NULL)
		return JWT_ERR_CRIT;
	v = json_object_get(t->header, "typ");
	if (v != NULL && !jwt_typ_ok(v))
		return JWT_ERR_TYPE;
	v = json_object_get(t->header, "kid");
	if (json_is_string(v))
		t->kid = json_string_value(v);

	/* judged after the header, so "alg":"none" is refused as such */
	if (siglen == 0)
		return JWT_ERR_MALFORMED;

	if (b64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1), buf,
					  JWT_SEGMENT_MAX, plen) != B64URL_OK)
	{
		*plen = 0;
		return JWT_ERR_MALFORMED;
	}

	/* No key we accept makes a longer signature: refuse before decoding. */
	if (b64url_decoded_max(siglen) > JWT_SIG_MAX)
		return JWT_ERR_SIGNATURE;
	if (b64url_decode(sig, siglen, t->sig, sizeof(t->sig), &declen) !=
		B64URL_OK)
		return JWT_ERR_MALFORMED;
	t->sig_len = declen;
	t->signing_input_len = (size_t) (dot2 - token);
	return JWT_OK;
}

jwt_status
jwt_parse(const char *token, size_t len, size_t max_len, jwt_token *out)
{
	unsigned char buf[JWT_SEGMENT_MAX];
	size_t		plen;
	jwt_status	st;

	st = jwt_parse_protected(token, len, max_len, out, buf, &plen);
	if (st == JWT_OK)
		st = jwt_load_object(buf, plen, &out->claims);
	if (st != JWT_OK)
		jwt_token_free(out);
	return st;
}

void
jwt_token_free(jwt_token *t)
{
	if (t == NULL)
		return;
	json_decref(t->header);
	json_decref(t->claims);
	memset(t, 0, sizeof(*t));
}

/* RS256 needs an RSA key (not RSA-PSS) of a size we accept. */
static jwt_status
jwt_check_key(const EVP_PKEY *key)
{
	int			bits;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return JWT_ERR_KEY;
	bits = EVP_PKEY_get_bits(key);
	if (bits < JWT_RSA_MIN_BITS || bits > JWT_RSA_MAX_BITS)
		return JWT_ERR_KEY;
	return JWT_OK;
}

jwt_status
jwt_verify_signature(const char *token, const jwt_token *t, EVP_PKEY *pub)
{
	EVP_MD_CTX *md;
	jwt_status	st;

	if (pub == NULL)
		return JWT_ERR_UNKNOWN_KEY;
	st = jwt_check_key(pub);
	if (st != JWT_OK)
		return st;
	/* RSASSA-PKCS1-v1_5 signatures are exactly the modulus length. */
	if (t->sig_len != (size_t) EVP_PKEY_get_size(pub))
		return JWT_ERR_SIGNATURE;

	ERR_set_mark();
	md = EVP_MD_CTX_new();
	if (md == NULL ||
		EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1)
		st = JWT_ERR_CRYPTO;
	else if (EVP_DigestVerify(md, t->sig, t->sig_len,
							  (const unsigned char *) token,
							  t->signing_input_len) != 1)
		st = JWT_ERR_SIGNATURE;
	else
		st = JWT_OK;
	EVP_MD_CTX_free(md);
	ERR_pop_to_mark();
	return st;
}

static bool
jwt_is_date(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

/*
 * Compares a NumericDate (integer or real, RFC 7519 section 2) with t:
 * negative, zero or positive like v - t. Integers are compared exactly;
 * reals as doubles, which never overflows.
 */
static int
jwt_date_cmp(const json_t *v, int64_t t)
{
	if (json_is_integer(v))
	{
		json_int_t	i = json_integer_value(v);

		return i < t ? -1 : i > t ? 1 : 0;
	}
	else
	{
		double		d = json_real_value(v);

		return d < (double) t ? -1 : d > (double) t ? 1 : 0;
	}
}

static int64_t
jwt_add_sat(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t
jwt_sub_sat(int64_t a, int64_t b)
{
	return a < INT64_MIN + b ? INT64_MIN : a - b;
}

static bool
jwt_nonempty_string(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 0;
}

jwt_status
jwt_check_claims(const jwt_token *t, const jwt_policy *p)
{
	const json_t *c = t->claims;
	const json_t *exp;
	const json_t *nbf;
	const json_t *iat;
	const json_t *iss;
	const json_t *aud;
	int64_t		leeway;
	size_t		i;

	if (!json_is_object(c) || p == NULL)
		return JWT_ERR_CLAIMS;
	leeway = p->leeway > 0 ? p->leeway : 0;

	/* Presence and types first: a token of the wrong shape says so. */
	exp = json_object_get(c, "exp");
	nbf = json_object_get(c, "nbf");
	iat = json_object_get(c, "iat");
	iss = json_object_get(c, "iss");
	aud = json_object_get(c, "aud");
	if (!jwt_is_date(exp) || !jwt_is_date(iat) ||
		(nbf != NULL && !jwt_is_date(nbf)) ||
		!jwt_nonempty_string(json_object_get(c, "sub")) ||
		(p->require_jti && !jwt_nonempty_string(json_object_get(c, "jti"))) ||
		(iss != NULL && !json_is_string(iss)))
		return JWT_ERR_CLAIMS;
	if (json_is_array(aud))
	{
		for (i = 0; i < json_array_size(aud); i++)
			if (!json_is_string(json_array_get(aud, i)))
				return JWT_ERR_CLAIMS;
	}
	else if (aud != NULL && !json_is_string(aud))
		return JWT_ERR_CLAIMS;

	if (p->issuer != NULL &&
		(iss == NULL || !jwt_str_eq(iss, p->issuer, strlen(p->issuer))))
		return JWT_ERR_ISSUER;

	if (p->audience != NULL)
	{
		size_t		alen = strlen(p->audience);
		bool		found = false;

		if (json_is_string(aud))
			found = jwt_str_eq(aud, p->audience, alen);
		else
			for (i = 0; !found && i < json_array_size(aud); i++)
				found = jwt_str_eq(json_array_get(aud, i), p->audience, alen);
		if (!found)
			return JWT_ERR_AUDIENCE;
	}

	/* exp: now must be before it (RFC 7519 section 4.1.4). */
	if (jwt_date_cmp(exp, jwt_sub_sat(p->now, leeway)) <= 0)
		return JWT_ERR_EXPIRED;
	if (nbf != NULL && jwt_date_cmp(nbf, jwt_add_sat(p->now, leeway)) > 0)
		return JWT_ERR_NOT_YET_VALID;
	/* A token issued in the future comes from a broken or forged clock. */
	if (jwt_date_cmp(iat, jwt_add_sat(p->now, leeway)) > 0)
		return JWT_ERR_NOT_YET_VALID;
	return JWT_OK;
}

/*
 * The steps of verification in the safe order: size, header, key,
 * signature, and only then the payload. check_sig verifies the signature
 * with whatever the lookup returned.
 */
static jwt_status
jwt_verify_with(const char *token, size_t len, size_t max_len,
				void *(*lookup) (void *arg, const char *kid), void *arg,
				jwt_status (*check_sig) (const char *token, const jwt_token *t,
										 void *key),
				const jwt_policy *p, jwt_token *out)
{
	unsigned char buf[JWT_SEGMENT_MAX];
	size_t		plen;
	void	   *key;
	jwt_status	st;

	st = jwt_parse_protected(token, len, max_len, out, buf, &plen);
	if (st == JWT_OK && (out->kid == NULL || lookup == NULL))
		st = JWT_ERR_UNKNOWN_KEY;
	if (st == JWT_OK)
	{
		key = lookup(arg, out->kid);
		st = key == NULL ? JWT_ERR_UNKNOWN_KEY : check_sig(token, out, key);
	}
	/* Only now is the payload worth parsing. */
	if (st == JWT_OK)
		st = jwt_load_object(buf, plen, &out->claims);
	if (st == JWT_OK)
		st = jwt_check_claims(out, p);
	if (st != JWT_OK)
		jwt_token_free(out);
	return st;
}

static jwt_status
jwt_check_sig_pkey(const char *token, const jwt_token *t, void *key)
{
	return jwt_verify_signature(token, t, key);
}

jwt_status
jwt_verify(const char *token, size_t len, size_t max_len,
		   jwt_key_lookup lookup, void *arg, const jwt_policy *p,
		   jwt_token *out)
{
	return jwt_verify_with(token, len, max_len,
						   (void *(*) (void *, const char *)) lookup, arg,
						   jwt_check_sig_pkey, p, out);
}

/*
 * A key prepared once for many verifications: OpenSSL 3 spends as long
 * setting up EVP_DigestVerify as a quarter of the RSA operation itself, so
 * the digest and the RSA contexts are made here and reused.
 */
struct jwt_verifier
{
	EVP_PKEY   *pub;
	EVP_MD	   *sha256;
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx;
};

jwt_status
jwt_verifier_new(EVP_PKEY *pub, jwt_verifier **out)
{
	jwt_verifier *v;
	jwt_status	st;

	*out = NULL;
	if (pub == NULL)
		return JWT_ERR_KEY;
	st = jwt_check_key(pub);
	if (st != JWT_OK)
		return st;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return JWT_ERR_NOMEM;
	ERR_set_mark();
	if (EVP_PKEY_up_ref(pub) != 1)
	{
		free(v);
		ERR_pop_to_mark();
		return JWT_ERR_CRYPTO;
	}
	v->pub = pub;
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	v->md = EVP_MD_CTX_new();
	v->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	if (v->sha256 == NULL || v->md == NULL || v->pctx == NULL ||
		EVP_PKEY_verify_init(v->pctx) != 1 ||
		EVP_PKEY_CTX_set_rsa_padding(v->pctx, RSA_PKCS1_PADDING) != 1 ||
		EVP_PKEY_CTX_set_signature_md(v->pctx, v->sha256) != 1)
	{
		jwt_verifier_free(v);
		ERR_pop_to_mark();
		return JWT_ERR_CRYPTO;
	}
	ERR_pop_to_mark();
	*out = v;
	return JWT_OK;
}

void
jwt_verifier_free(jwt_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_CTX_free(v->pctx);
	EVP_MD_CTX_free(v->md);
	EVP_MD_free(v->sha256);
	EVP_PKEY_free(v->pub);
	free(v);
}

EVP_PKEY *
jwt_verifier_key(const jwt_verifier *v)
{
	return v->pub;
}

static jwt_status
jwt_check_sig_verifier(const char *token, const jwt_token *t, void *key)
{
	jwt_verifier *v = key;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	jwt_status	st;

	if (t->sig_len != (size_t) EVP_PKEY_get_size(v->pub))
		return JWT_ERR_SIGNATURE;
	ERR_set_mark();
	if (EVP_DigestInit_ex2(v->md, v->sha256, NULL) != 1 ||
		EVP_DigestUpdate(v->md, token, t->signing_input_len) != 1 ||
		EVP_DigestFinal_ex(v->md, digest, &dlen) != 1)
		st = JWT_ERR_CRYPTO;
	else if (EVP_PKEY_verify(v->pctx, t->sig, t->sig_len, digest, dlen) != 1)
		st = JWT_ERR_SIGNATURE;
	else
		st = JWT_OK;
	ERR_pop_to_mark();
	return st;
}

jwt_status
jwt_verify_prepared(const char *token, size_t len, size_t max_len,
					jwt_verifier_lookup lookup, void *arg,
					const jwt_policy *p, jwt_token *out)
{
	return jwt_verify_with(token, len, max_len,
						   (void *(*) (void *, const char *)) lookup, arg,
						   jwt_check_sig_verifier, p, out);
}

/* Appends the base64url of src and a separator (when sep is not NUL). */
static bool
jwt_put_b64(const unsigned char *src, size_t n, char sep, char *out,
			size_t outsize, size_t *o)
{
	size_t		len;

	if (b64url_encode(src, n, out + *o, outsize - *o, &len) != B64URL_OK)
		return false;
	*o += len;
	if (sep != '\0')
	{
		if (outsize - *o < 2)
			return false;
		out[(*o)++] = sep;
		out[*o] = '\0';
	}
	return true;
}

jwt_status
jwt_sign_rs256(EVP_PKEY *priv, const char *kid, const json_t *claims,
			   char *out, size_t outsize, size_t *outlen)
{
	json_t	   *header = NULL;
	json_t	   *jkid = NULL;
	char	   *scratch = NULL;
	size_t		hlen;
	size_t		clen;
	size_t		total;
	size_t		o = 0;
	size_t		siglen;
	unsigned char sig[JWT_SIG_MAX];
	EVP_MD_CTX *md = NULL;
	jwt_status	st;

	*outlen = 0;
	if (outsize > 0)
		out[0] = '\0';
	if (priv == NULL)
		return JWT_ERR_KEY;
	st = jwt_check_key(priv);
	if (st != JWT_OK)
		return st;
	if (kid == NULL || *kid == '\0')
		return JWT_ERR_UNKNOWN_KEY;
	if (!json_is_object(claims))
		return JWT_ERR_CLAIMS;

	/* json_string refuses a kid that is not UTF-8 */
	jkid = json_string(kid);
	if (jkid == NULL)
		return JWT_ERR_UNKNOWN_KEY;
	st = JWT_ERR_NOMEM;
	header = json_object();
	if (header == NULL ||
		json_object_set_new(header, "alg", json_string("RS256")) != 0 ||
		json_object_set_new(header, "typ", json_string("JWT")) != 0 ||
		json_object_set(header, "kid", jkid) != 0)
		goto done;

	/* One scratch buffer holds both serialisations. */
	hlen = json_dumpb(header, NULL, 0, JSON_COMPACT);
	clen = json_dumpb(claims, NULL, 0, JSON_COMPACT);
	if (hlen == 0 || clen == 0)
		goto done;
	total = b64url_encoded_len(hlen) + 1 + b64url_encoded_len(clen) + 1 +
		b64url_encoded_len((size_t) EVP_PKEY_get_size(priv));
	if (total > JWT_MAX_LEN)
	{
		st = JWT_ERR_TOO_LARGE;
		goto done;
	}
	if (total >= outsize)
	{
		st = JWT_ERR_SPACE;
		goto done;
	}
	scratch = malloc(hlen + clen);
	if (scratch == NULL)
		goto done;
	if (json_dumpb(header, scratch, hlen, JSON_COMPACT) != hlen ||
		json_dumpb(claims, scratch + hlen, clen, JSON_COMPACT) != clen)
		goto done;

	st = JWT_ERR_SPACE;			/* cannot happen: total was checked */
	if (!jwt_put_b64((unsigned char *) scratch, hlen, '.', out, outsize, &o) ||
		!jwt_put_b64((unsigned char *) scratch + hlen, clen, '.', out,
					 outsize, &o))
		goto done;

	st = JWT_ERR_CRYPTO;
	ERR_set_mark();
	siglen = sizeof(sig);
	md = EVP_MD_CTX_new();
	if (md != NULL &&
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, priv) == 1 &&
		EVP_DigestSign(md, sig, &siglen, (const unsigned char *) out,
					   o - 1) == 1)
		st = jwt_put_b64(sig, siglen, '\0', out, outsize, &o) ?
			JWT_OK : JWT_ERR_SPACE;
	ERR_pop_to_mark();

done:
	EVP_MD_CTX_free(md);
	free(scratch);
	json_decref(header);
	json_decref(jkid);
	if (st == JWT_OK)
		*outlen = o;
	else if (outsize > 0)
		out[0] = '\0';
	return st;
}

const char *
jwt_strerror(jwt_status status)
{
	switch (status)
	{
		case JWT_OK:
			return "success";
		case JWT_ERR_TOO_LARGE:
			return "token too large";
		case JWT_ERR_MALFORMED:
			return "malformed token";
		case JWT_ERR_ALGORITHM:
			return "token algorithm not allowed";
		case JWT_ERR_CRIT:
			return "token has critical header extensions";
		case JWT_ERR_TYPE:
			return "token type not accepted";
		case JWT_ERR_UNKNOWN_KEY:
			return "token key id missing or unknown";
		case JWT_ERR_KEY:
			return "key is not an RSA key of 2048 to 8192 bits";
		case JWT_ERR_SIGNATURE:
			return "token signature invalid";
		case JWT_ERR_EXPIRED:
			return "token expired";
		case JWT_ERR_NOT_YET_VALID:
			return "token not yet valid";
		case JWT_ERR_ISSUER:
			return "token issuer not accepted";
		case JWT_ERR_AUDIENCE:
			return "token audience not accepted";
		case JWT_ERR_CLAIMS:
			return "token claims missing or of the wrong type";
		case JWT_ERR_NOMEM:
			return "out of memory";
		case JWT_ERR_CRYPTO:
			return "cryptographic library failure";
		case JWT_ERR_SPACE:
			return "output buffer too small";
	}
	return "unknown token error";
}
