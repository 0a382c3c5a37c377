/*
 * b64url.h
 *		Strict base64url (RFC 4648 section 5, unpadded, as JOSE uses it).
 *
 * Both faces use this codec for JWT segments and JWK members, so decoding is
 * strict: no padding, no white space, no characters of the standard alphabet,
 * and no non-zero bits in the last character. A strict decoder makes every
 * token have exactly one encoding, which keeps signatures non-malleable and
 * cache keys canonical.
 *
 * The caller supplies every buffer; nothing here allocates.
 */
#ifndef WARDEN_B64URL_H
#define WARDEN_B64URL_H

#include <stddef.h>

typedef enum b64url_status
{
	B64URL_OK = 0,
	B64URL_ERR_SPACE,			/* output buffer too small */
	B64URL_ERR_CHAR,			/* byte outside the base64url alphabet */
	B64URL_ERR_LENGTH,			/* length leaves a lone 6-bit group */
	B64URL_ERR_TRAILING_BITS	/* unused bits of the last character set */
} b64url_status;

/* Characters needed to encode n bytes (no terminator). */
extern size_t b64url_encoded_len(size_t n);

/* Upper bound of the bytes an input of n characters decodes to. */
extern size_t b64url_decoded_max(size_t n);

/*
 * Encodes src[0..n) into dst and NUL-terminates it; dstsize must be at least
 * b64url_encoded_len(n) + 1. *outlen gets the length without the terminator.
 */
extern b64url_status b64url_encode(const unsigned char *src, size_t n,
								   char *dst, size_t dstsize, size_t *outlen);

/*
 * Decodes src[0..n) into dst; dstsize must be at least b64url_decoded_max(n).
 * On error nothing useful is in dst and *outlen is 0.
 */
extern b64url_status b64url_decode(const char *src, size_t n,
								   unsigned char *dst, size_t dstsize,
								   size_t *outlen);

/*
 * The length of the run of base64url characters s starts with, up to the
 * first byte outside the alphabet (its NUL at the latest): the shape check
 * of a JWT segment, without decoding it.
 */
extern size_t b64url_span(const char *s);

extern const char *b64url_strerror(b64url_status status);

#endif							/* WARDEN_B64URL_H */
