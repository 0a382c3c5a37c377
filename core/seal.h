/*
 * seal.h
 *		AES-256-GCM sealing of secrets at rest: signing keys' private keys,
 *		TOTP secrets, later user data.
 *
 * A sealed value is self-describing so master keys can rotate:
 *
 *   version (1 byte, 1) | key id (4 bytes, big-endian) | nonce (12 bytes)
 *   | ciphertext (as long as the plaintext) | GCM tag (16 bytes)
 *
 * The version byte and the key id are authenticated, together with an
 * optional caller-supplied context such as "warden/signing_key/<kid>" or
 * "warden/totp/<user id>": a sealed value copied into another row or used
 * for another purpose fails to open, exactly like a tampered one. The
 * context is not stored; the caller supplies the same one to open.
 *
 * Nonces are 96 random bits from RAND_bytes per seal. With random nonces
 * NIST SP 800-38D allows 2^32 seals under one key: rotate the master key
 * (new key id) long before that.
 *
 * The caller supplies every buffer; ciphertext and plaintext buffers must
 * not overlap. Nothing is kept between calls, so this is thread-safe.
 */
#ifndef WARDEN_SEAL_H
#define WARDEN_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_VERSION		1
#define SEAL_KEY_LEN		32
#define SEAL_HEADER_LEN		5	/* version and key id */
#define SEAL_NONCE_LEN		12
#define SEAL_TAG_LEN		16
#define SEAL_OVERHEAD		(SEAL_HEADER_LEN + SEAL_NONCE_LEN + SEAL_TAG_LEN)
/* A sealed value must still fit a PostgreSQL bytea (1 GB). */
#define SEAL_MAX_PLAINTEXT	((size_t) 0x3FFFFFFF - SEAL_OVERHEAD)
#define SEAL_MAX_CONTEXT	((size_t) 65536)

typedef enum seal_status
{
	SEAL_OK = 0,
	SEAL_ERR_FORMAT,			/* too short to be a sealed value */
	SEAL_ERR_VERSION,			/* a format version this build cannot open */
	SEAL_ERR_AUTH,				/* wrong key, wrong context or tampered */
	SEAL_ERR_SPACE,				/* output buffer too small */
	SEAL_ERR_TOO_LARGE,			/* plaintext or context over the limits */
	SEAL_ERR_CRYPTO				/* OpenSSL failed (cipher, random bytes) */
} seal_status;

/* Bytes a plaintext of n bytes seals to; 0 when n is over the limit. */
extern size_t seal_sealed_len(size_t n);

/* Bytes a sealed value of n bytes opens to; 0 when n is too short. */
extern size_t seal_opened_len(size_t n);

/*
 * Seals pt[0..ptlen) under key/key_id, binding ctx[0..ctxlen) (ctx may be
 * NULL when ctxlen is 0). outsize must be at least seal_sealed_len(ptlen).
 */
extern seal_status seal_encrypt(const uint8_t key[SEAL_KEY_LEN],
								uint32_t key_id,
								const uint8_t *ctx, size_t ctxlen,
								const uint8_t *pt, size_t ptlen,
								uint8_t *out, size_t outsize, size_t *outlen);

/*
 * The key id of a sealed value, to pick the master key that opens it. The
 * id is not trusted until seal_decrypt has checked the tag.
 */
extern seal_status seal_key_id(const uint8_t *sealed, size_t len,
							   uint32_t *key_id);

/*
 * Opens a sealed value with the master key its key id names and the context
 * it was sealed with. outsize must be at least seal_opened_len(len). On
 * failure *outlen is 0, and once decryption has begun out[0..outsize) is
 * wiped: plaintext that failed authentication never reaches the caller.
 */
extern seal_status seal_decrypt(const uint8_t key[SEAL_KEY_LEN],
								const uint8_t *ctx, size_t ctxlen,
								const uint8_t *sealed, size_t len,
								uint8_t *out, size_t outsize, size_t *outlen);

extern const char *seal_strerror(seal_status status);

#endif							/* WARDEN_SEAL_H */
