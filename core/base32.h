/*
 * base32.h
 *		RFC 4648 base32, as otpauth:// URIs carry TOTP secrets.
 *
 * Encoding is canonical: upper case, no padding (what authenticator apps
 * expect in a "secret=" parameter). Decoding is for secrets people copy or
 * type, so it forgives what is harmless and refuses what is ambiguous: case
 * is ignored and spaces (apps show secrets in groups of four) are skipped,
 * but padding, if present, must be exactly right, the length must be one a
 * real encoding can have, and the unused bits of the last character must be
 * zero, so a typo is reported instead of silently becoming another secret.
 *
 * The caller supplies every buffer; nothing here allocates.
 */
#ifndef WARDEN_BASE32_H
#define WARDEN_BASE32_H

#include <stddef.h>

typedef enum base32_status
{
	BASE32_OK = 0,
	BASE32_ERR_SPACE,			/* output buffer too small */
	BASE32_ERR_CHAR,			/* byte outside the alphabet, '=' or space */
	BASE32_ERR_LENGTH,			/* length no encoding can have */
	BASE32_ERR_PADDING,			/* '=' count wrong, or data after padding */
	BASE32_ERR_TRAILING_BITS	/* unused bits of the last character set */
} base32_status;

/* Characters needed to encode n bytes without padding (no terminator). */
extern size_t base32_encoded_len(size_t n);

/* Upper bound of the bytes an input of n characters decodes to. */
extern size_t base32_decoded_max(size_t n);

/*
 * Encodes src[0..n) in upper case without padding into dst and
 * NUL-terminates it; dstsize must be at least base32_encoded_len(n) + 1.
 * *outlen gets the length without the terminator.
 */
extern base32_status base32_encode(const unsigned char *src, size_t n,
								   char *dst, size_t dstsize, size_t *outlen);

/*
 * Decodes src[0..n) into dst; dstsize must be at least base32_decoded_max(n).
 * On error *outlen is 0 and dst holds nothing useful (it is cleared, since a
 * partial secret is still a secret).
 */
extern base32_status base32_decode(const char *src, size_t n,
								   unsigned char *dst, size_t dstsize,
								   size_t *outlen);

extern const char *base32_strerror(base32_status status);

#endif							/* WARDEN_BASE32_H */
