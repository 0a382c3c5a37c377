/*
 * jwt.h
 *		JSON Web Tokens in JWS compact serialization (RFC 7515, RFC 7519),
 *		RS256 only.
 *
 * The algorithm is pinned: the header's "alg" must be exactly "RS256", and
 * the key comes from the caller's lookup by "kid", never from the token, so
 * "none", HMAC-with-the-public-key and algorithm downgrades cannot work.
 * Any "crit" header is refused because warden understands no extensions.
 *
 * jwt_verify does the checks in the only safe order: size, structure,
 * header, key, signature, and only then the claims. The payload is not
 * even parsed before the signature has verified, so an unauthenticated
 * sender cannot feed the JSON parser more than a header.
 *
 * Verification is on the per-request path of the edge: keys are parsed
 * once (see jwk.h) and only borrowed here, the segments are decoded into a
 * stack buffer, and the signature is checked over the token's own bytes,
 * so no JSON is ever re-serialised. Functions keep no global state; an
 * EVP_PKEY may be shared read-only by many threads verifying at once.
 *
 * Error messages (jwt_strerror) are fixed strings: they never contain the
 * token or a claim, so they are safe to log.
 *
 * jansson comes in through json_safe.h, never <jansson.h>: inside the
 * server a direct json_object() call would bind to PostgreSQL's own.
 */
#ifndef WARDEN_JWT_H
#define WARDEN_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_safe.h"
#include <openssl/evp.h>

/* Hard cap of a token, whatever limit the caller passes. */
#define JWT_MAX_LEN			16384
/* Largest signature kept: an RSA-8192 key, the largest jwk.h accepts. */
#define JWT_SIG_MAX			1024
#define JWT_RSA_MIN_BITS	2048
#define JWT_RSA_MAX_BITS	8192

typedef enum jwt_status
{
	JWT_OK = 0,
	JWT_ERR_TOO_LARGE,			/* over the caller's limit or JWT_MAX_LEN */
	JWT_ERR_MALFORMED,			/* not three non-empty base64url segments of
								 * UTF-8 JSON objects without duplicate keys */
	JWT_ERR_ALGORITHM,			/* alg missing or not exactly "RS256" */
	JWT_ERR_CRIT,				/* a "crit" header: no extension is known */
	JWT_ERR_TYPE,				/* typ present and not JWT or at+jwt */
	JWT_ERR_UNKNOWN_KEY,		/* kid missing, not a string, or not found */
	JWT_ERR_KEY,				/* the key is not RSA of 2048..8192 bits */
	JWT_ERR_SIGNATURE,			/* signature wrong, or of the wrong length */
	JWT_ERR_EXPIRED,			/* exp reached (beyond the leeway) */
	JWT_ERR_NOT_YET_VALID,		/* nbf or iat in the future (beyond leeway) */
	JWT_ERR_ISSUER,				/* iss missing or not the expected issuer */
	JWT_ERR_AUDIENCE,			/* aud missing or without our audience */
	JWT_ERR_CLAIMS,				/* a required claim missing or of the wrong
								 * type */
	JWT_ERR_NOMEM,
	JWT_ERR_CRYPTO,				/* OpenSSL failed (not a bad signature) */
	JWT_ERR_SPACE				/* output buffer too small */
} jwt_status;

/*
 * A parsed token. header and claims are jansson objects owned by the token;
 * kid points into header. signing_input_len is the length of the
 * "header.payload" prefix of the token text the signature covers; the
 * token text itself is not copied, so the caller keeps it alive and passes
 * it again to jwt_verify_signature.
 *
 * Release with jwt_token_free, which is safe on a zeroed or partly filled
 * token and leaves it zeroed.
 */
typedef struct jwt_token
{
	json_t	   *header;
	json_t	   *claims;
	const char *kid;			/* NULL when absent or not a string */
	size_t		signing_input_len;
	size_t		sig_len;
	unsigned char sig[JWT_SIG_MAX];
} jwt_token;

/*
 * Returns the verification key of a kid, or NULL when there is none. The key
 * is borrowed: it must stay valid until the call that asked returns.
 */
typedef EVP_PKEY *(*jwt_key_lookup) (void *arg, const char *kid);

/*
 * What the claims must satisfy. issuer and audience are checked when not
 * NULL (an edge should always set both). now is Unix time; leeway (seconds,
 * negative counts as 0) absorbs clock skew in exp, nbf and iat.
 */
typedef struct jwt_policy
{
	const char *issuer;
	const char *audience;
	int64_t		now;
	int64_t		leeway;
	bool		require_jti;
} jwt_policy;

/*
 * Splits and decodes token[0..len) (it need not be NUL-terminated) and
 * parses header and claims. Checks size (max_len, capped at JWT_MAX_LEN;
 * 0 means JWT_MAX_LEN), structure, alg, crit and typ; kid is optional here.
 * Does NOT verify the signature or any claim. On error *out is zeroed.
 */
extern jwt_status jwt_parse(const char *token, size_t len, size_t max_len,
							jwt_token *out);

/*
 * Verifies the RS256 signature of a token parsed from `token` (the same
 * text) with pub, which must be RSA of JWT_RSA_MIN_BITS..JWT_RSA_MAX_BITS.
 */
extern jwt_status jwt_verify_signature(const char *token, const jwt_token *t,
									   EVP_PKEY *pub);

/*
 * Checks the claims against the policy: exp (NumericDate: JSON integer or
 * real) and iat required, nbf optional, sub a required non-empty string,
 * jti a non-empty string when required, iss equal to the policy's issuer,
 * aud (a string or an array of strings) containing the policy's audience.
 * Presence and types are checked first, then issuer, audience, and time.
 * Only meaningful after the signature has verified.
 */
extern jwt_status jwt_check_claims(const jwt_token *t, const jwt_policy *p);

/*
 * Everything, in order: size, structure and encoding, header, key lookup
 * by kid, signature, then the payload's JSON and the claims. On JWT_OK *out
 * holds header and claims for the caller to read; free it with
 * jwt_token_free. On error *out is already freed and zeroed. *out is
 * overwritten, not freed first. lookup must return (not longjmp): the
 * header is allocated while it runs.
 */
extern jwt_status jwt_verify(const char *token, size_t len, size_t max_len,
							 jwt_key_lookup lookup, void *arg,
							 const jwt_policy *p, jwt_token *out);

/*
 * A public key prepared for repeated verification (the OpenSSL contexts are
 * set up once). Not thread-safe: keep one per thread, or per backend. The
 * verifier holds its own reference to the key.
 */
typedef struct jwt_verifier jwt_verifier;

extern jwt_status jwt_verifier_new(EVP_PKEY *pub, jwt_verifier **out);
extern void jwt_verifier_free(jwt_verifier *v);
extern EVP_PKEY *jwt_verifier_key(const jwt_verifier *v);

typedef jwt_verifier *(*jwt_verifier_lookup) (void *arg, const char *kid);

/* jwt_verify() with prepared keys: the same checks in the same order. */
extern jwt_status jwt_verify_prepared(const char *token, size_t len,
									  size_t max_len,
									  jwt_verifier_lookup lookup, void *arg,
									  const jwt_policy *p, jwt_token *out);

extern void jwt_token_free(jwt_token *t);

/*
 * Signs claims (a JSON object, serialised compactly) with an RSA private key
 * of JWT_RSA_MIN_BITS..JWT_RSA_MAX_BITS under the header
 * {"alg":"RS256","typ":"JWT","kid":kid} (kid required: jwt_verify needs it).
 * Writes the NUL-terminated compact token into out; *outlen gets its length
 * without the terminator. Tokens over JWT_MAX_LEN are refused, so whatever
 * this signs, jwt_verify can read.
 */
extern jwt_status jwt_sign_rs256(EVP_PKEY *priv, const char *kid,
								 const json_t *claims, char *out,
								 size_t outsize, size_t *outlen);

extern const char *jwt_strerror(jwt_status status);

#endif							/* WARDEN_JWT_H */
