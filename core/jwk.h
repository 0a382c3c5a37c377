/*
 * jwk.h
 *		RSA JSON Web Keys (RFC 7517), JWK Sets and RFC 7638 thumbprints.
 *
 * Warden signs with RS256 only, so the only keys it turns into EVP_PKEYs are
 * RSA signature keys of 2048 to 8192 bits. Parsing is strict because a JWK
 * Set is fetched from elsewhere and decides whose tokens are trusted: a
 * member of the wrong type, a non-minimal base64url integer, a small
 * modulus or any private member ("d", the CRT values, or a symmetric "k")
 * refuses the key, and in a set refuses the whole set, so a broken or
 * leaking key publication is noticed instead of half-used.
 *
 * A JWK Set may also publish keys warden cannot use (EC keys, encryption
 * keys, other algorithms); those are skipped, not refused, so a shared
 * identity provider's set still works. See jwk_set_parse.
 *
 * Every EVP_PKEY made here is a provider-native public key: it may be used
 * read-only from many threads at once. Nothing here keeps global state.
 * jansson comes in through json_safe.h (see there).
 */
#ifndef WARDEN_JWK_H
#define WARDEN_JWK_H

#include <stddef.h>

#include "json_safe.h"
#include <openssl/evp.h>

#define JWK_RSA_MIN_BITS	2048
/* Larger moduli only make verification slow enough to be a lever for DoS. */
#define JWK_RSA_MAX_BITS	8192
/* Base64url of a SHA-256 digest. */
#define JWK_THUMBPRINT_LEN	43
#define JWK_SET_MAX_LEN		((size_t) 256 * 1024)
#define JWK_SET_MAX_KEYS	64

typedef enum jwk_status
{
	JWK_OK = 0,
	JWK_ERR_MALFORMED,			/* not JSON, wrong shape or member type,
								 * bad or non-minimal base64url, even modulus */
	JWK_ERR_KTY,				/* kty is not "RSA" (or the key is not RSA) */
	JWK_ERR_ALG,				/* alg present and not "RS256" */
	JWK_ERR_USE,				/* use not "sig", or key_ops without "verify" */
	JWK_ERR_PRIVATE,			/* private or symmetric key material present */
	JWK_ERR_KEY_SIZE,			/* modulus outside 2048..8192 bits */
	JWK_ERR_EXPONENT,			/* exponent even, 1, or over 64 bits */
	JWK_ERR_KID,				/* kid missing, empty or not a string */
	JWK_ERR_DUPLICATE_KID,		/* two usable keys of a set share a kid */
	JWK_ERR_TOO_LARGE,			/* set over JWK_SET_MAX_LEN or _MAX_KEYS */
	JWK_ERR_NOMEM,
	JWK_ERR_CRYPTO,				/* OpenSSL failed */
	JWK_ERR_SPACE				/* output buffer too small */
} jwk_status;

/*
 * Makes the public JWK {"kty":"RSA","use":"sig","alg":"RS256","kid":..,
 * "n":..,"e":..} of an RSA key (public or private: only n and e are read).
 * A NULL kid means the key's RFC 7638 thumbprint. *out is a new reference
 * (json_decref it); NULL on error.
 */
extern jwk_status jwk_from_public_key(const EVP_PKEY *pub, const char *kid,
									  json_t **out);

/*
 * Makes an EVP_PKEY from one RSA public JWK, strictly (see the header
 * comment); members other than kty, n, e, alg, use, key_ops and the private
 * ones are ignored. *out is NULL on error; free it with EVP_PKEY_free.
 */
extern jwk_status jwk_to_public_key(const json_t *jwk, EVP_PKEY **out);

/*
 * Writes the RFC 7638 SHA-256 thumbprint of an RSA key, base64url,
 * NUL-terminated (outsize >= JWK_THUMBPRINT_LEN + 1). It names a key by its
 * value alone, which makes it a good kid.
 */
extern jwk_status jwk_thumbprint(const EVP_PKEY *pub, char *out,
								 size_t outsize);

/* An immutable kid -> key map; safe to read from many threads. */
typedef struct jwk_set jwk_set;

/*
 * Parses an RFC 7517 JWK Set {"keys":[...]} of at most JWK_SET_MAX_LEN bytes
 * and JWK_SET_MAX_KEYS keys. A key is used when kty is "RSA", alg is absent
 * or "RS256", use is absent or "sig" and key_ops, if present, includes
 * "verify"; every other key is skipped (not an error). A used key must pass
 * jwk_to_public_key and have a non-empty string kid unique among used keys.
 * Private members in any key, used or skipped, refuse the set. A set with no
 * usable key parses (count 0). *out is NULL on error; free it with
 * jwk_set_free.
 */
extern jwk_status jwk_set_parse(const char *json, size_t len, jwk_set **out);

/*
 * The key of a kid, or NULL. The key is borrowed: it lives as long as the
 * set. The signature is jwt_key_lookup's, so a set can be passed straight to
 * jwt_verify as its lookup argument.
 */
extern EVP_PKEY *jwk_set_lookup(void *set, const char *kid);

/* Number of usable keys in the set. */
extern size_t jwk_set_count(const jwk_set *set);

/* Frees the set and its keys; NULL is allowed. */
extern void jwk_set_free(jwk_set *set);

extern const char *jwk_strerror(jwk_status status);

#endif							/* WARDEN_JWK_H */
