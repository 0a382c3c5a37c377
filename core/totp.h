/*
 * totp.h
 *		One-time passwords: RFC 4226 HOTP and RFC 6238 TOTP with HMAC-SHA1,
 *		and the otpauth:// URI that enrols a secret in an authenticator app.
 *
 * HMAC-SHA1 is what every authenticator app implements; its weaknesses as a
 * hash do not affect HMAC. Verification is built so that a code is accepted
 * at most once: the caller stores the matched time step and passes it back
 * as last_step, and every step at or before it is refused. The comparison
 * looks at every candidate step in constant time, so timing reveals neither
 * whether nor where a code matched.
 *
 * Nothing here allocates or keeps state; the caller supplies buffers.
 */
#ifndef WARDEN_TOTP_H
#define WARDEN_TOTP_H

#include <stddef.h>
#include <stdint.h>

/* RFC 4226 section 4 R6: the shared secret is at least 128 bits. */
#define TOTP_KEY_MIN		16
/* Longer keys only get hashed down by HMAC; refuse nonsense lengths. */
#define TOTP_KEY_MAX		128
/* What warden issues: 160 bits, the length RFC 4226 recommends. */
#define TOTP_KEY_DEFAULT	20
#define TOTP_DIGITS			6
#define TOTP_PERIOD			30
/* Steps accepted either side of now; more widens the guessing odds. */
#define TOTP_WINDOW_MAX		10

typedef enum totp_status
{
	TOTP_OK = 0,
	TOTP_ERR_FORMAT,			/* code is not exactly `digits` ASCII digits */
	TOTP_ERR_MISMATCH,			/* no step in the window has this code */
	TOTP_ERR_REPLAY,			/* code matches only steps already used */
	TOTP_ERR_PARAM,				/* key length, digits, period, window, now */
	TOTP_ERR_SPACE,				/* output buffer too small */
	TOTP_ERR_CRYPTO				/* OpenSSL failed (HMAC, random bytes) */
} totp_status;

/*
 * HOTP (RFC 4226 section 5.3): the code of `counter` for a key of
 * TOTP_KEY_MIN..TOTP_KEY_MAX bytes, with 6 or 8 digits.
 */
extern totp_status totp_code(const uint8_t *key, size_t keylen,
							 uint64_t counter, int digits, uint32_t *code);

/*
 * TOTP (RFC 6238): checks the NUL-terminated `code` against the steps
 * floor(now / period) - window .. + window (now >= 0, Unix time, T0 = 0;
 * 0 <= window <= TOTP_WINDOW_MAX). Steps <= last_step are never accepted:
 * pass the matched_step stored after the previous success, or -1 for a new
 * secret. On TOTP_OK *matched_step is the earliest fresh step that matched;
 * the caller must store it (atomically with the check) before trusting the
 * login. A code that matches only used steps is TOTP_ERR_REPLAY.
 */
extern totp_status totp_verify(const uint8_t *key, size_t keylen,
							   const char *code, int64_t now, int period,
							   int digits, int window, int64_t last_step,
							   int64_t *matched_step);

/*
 * Writes the key-URI of the secret for authenticator apps, NUL-terminated:
 *   otpauth://totp/<Issuer>:<account>?secret=<BASE32>&issuer=<Issuer>
 *   &algorithm=SHA1&digits=6&period=30
 * issuer and account are non-empty NUL-terminated strings and are
 * percent-encoded (RFC 3986: everything but unreserved characters, so the
 * ':' that separates them cannot appear inside either). *outlen gets the
 * length without the terminator.
 */
extern totp_status totp_uri(const char *issuer, const char *account,
							const uint8_t *key, size_t keylen,
							char *out, size_t outsize, size_t *outlen);

/* Fills key[0..keylen) with fresh random bytes for a new secret. */
extern totp_status totp_generate_key(uint8_t *key, size_t keylen);

extern const char *totp_strerror(totp_status status);

#endif							/* WARDEN_TOTP_H */
