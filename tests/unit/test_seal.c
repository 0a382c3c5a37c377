/*
 * test_seal.c
 *		Tests of core/seal: round trips, and that every way of presenting a
 *		sealed value other than the one it was made for fails: wrong key,
 *		wrong context, any tampered byte, truncation, unknown version.
 */
#include "unit.h"

#include "seal.h"

#include <stdint.h>
#include <stdlib.h>

static const uint8_t key1[SEAL_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};
static const uint8_t key2[SEAL_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1e	/* last bit differs */
};

#define CTX "warden/signing_key/k1"
#define CTXLEN (sizeof(CTX) - 1)

typedef struct trip_case
{
	const char *name;
	const char *ctx;			/* NULL: no context */
	const char *pt;
	size_t		ptlen;
	uint32_t	key_id;
} trip_case;

static const trip_case trip_cases[] = {
	{"secret with context", CTX, "a TOTP secret!!!", 16, 1},
	{"no context", NULL, "a TOTP secret!!!", 16, 2},
	{"empty plaintext", CTX, "", 0, 3},
	{"one byte", CTX, "x", 1, 0},
	{"binary with NULs", CTX, "\0\x01\0\xff\0", 5, 0xFFFFFFFFu},
	{"key id big-endian", "c", "pt", 2, 0xDEADBEEFu},
};

static void
test_round_trip_table(void)
{
	for (size_t i = 0; i < sizeof(trip_cases) / sizeof(trip_cases[0]); i++)
	{
		const trip_case *c = &trip_cases[i];
		const uint8_t *ctx = (const uint8_t *) c->ctx;
		size_t		ctxlen = c->ctx ? strlen(c->ctx) : 0;
		uint8_t		sealed[128];
		uint8_t		opened[128];
		size_t		slen;
		size_t		olen;
		uint32_t	kid;
		seal_status st;

		st = seal_encrypt(key1, c->key_id, ctx, ctxlen,
						  (const uint8_t *) c->pt, c->ptlen, sealed,
						  sizeof(sealed), &slen);
		UNIT_CHECK(st == SEAL_OK, "%s: seal status %s", c->name,
				   seal_strerror(st));
		UNIT_CHECK(slen == c->ptlen + SEAL_OVERHEAD &&
				   slen == seal_sealed_len(c->ptlen), "%s: sealed length",
				   c->name);
		UNIT_CHECK(sealed[0] == SEAL_VERSION, "%s: version byte", c->name);
		UNIT_CHECK(sealed[1] == (uint8_t) (c->key_id >> 24) &&
				   sealed[4] == (uint8_t) c->key_id,
				   "%s: key id stored big-endian", c->name);
		UNIT_CHECK(seal_key_id(sealed, slen, &kid) == SEAL_OK &&
				   kid == c->key_id, "%s: key id read back", c->name);

		st = seal_decrypt(key1, ctx, ctxlen, sealed, slen, opened,
						  sizeof(opened), &olen);
		UNIT_CHECK(st == SEAL_OK, "%s: open status %s", c->name,
				   seal_strerror(st));
		UNIT_CHECK_MEM(opened, olen, c->pt, c->ptlen, "%s: plaintext",
					   c->name);
		UNIT_CHECK(seal_opened_len(slen) == c->ptlen, "%s: opened_len",
				   c->name);
	}
}

typedef struct open_case
{
	const char *name;
	const uint8_t *key;
	const char *ctx;
	size_t		ctxlen;
} open_case;

static const open_case wrong_cases[] = {
	{"wrong key", key2, CTX, CTXLEN},
	{"wrong context", key1, "warden/signing_key/k2", CTXLEN},
	{"context of another purpose", key1, "warden/totp/k1", 14},
	{"no context", key1, NULL, 0},
	{"context prefix", key1, CTX, CTXLEN - 1},
	{"context with extra byte", key1, CTX "x", CTXLEN + 1},
};

static void
test_wrong_table(void)
{
	const char	pt[] = "the private key";
	uint8_t		sealed[128];
	uint8_t		opened[128];
	size_t		slen;
	size_t		olen;

	UNIT_CHECK(seal_encrypt(key1, 7, (const uint8_t *) CTX, CTXLEN,
							(const uint8_t *) pt, sizeof(pt), sealed,
							sizeof(sealed), &slen) == SEAL_OK,
			   "wrong: seal");
	for (size_t i = 0; i < sizeof(wrong_cases) / sizeof(wrong_cases[0]); i++)
	{
		const open_case *c = &wrong_cases[i];
		seal_status st;

		memset(opened, 'P', sizeof(opened));
		olen = 99;
		st = seal_decrypt(c->key, (const uint8_t *) c->ctx, c->ctxlen,
						  sealed, slen, opened, sizeof(opened), &olen);
		UNIT_CHECK(st == SEAL_ERR_AUTH, "%s: got \"%s\"", c->name,
				   seal_strerror(st));
		UNIT_CHECK(olen == 0, "%s: outlen cleared", c->name);
		UNIT_CHECK(memmem(opened, sizeof(opened), "private", 7) == NULL,
				   "%s: no plaintext left in the buffer", c->name);
	}
}

/* Flipping any bit of any byte is refused; the version byte says so. */
static void
test_every_byte_tampered(void)
{
	const char	pt[] = "0123456789abcdef0123";
	uint8_t		sealed[128];
	uint8_t		opened[128];
	size_t		slen;
	size_t		olen;
	int			failures = 0;

	seal_encrypt(key1, 42, (const uint8_t *) CTX, CTXLEN,
				 (const uint8_t *) pt, sizeof(pt) - 1, sealed, sizeof(sealed),
				 &slen);
	for (size_t i = 0; i < slen; i++)
	{
		for (int bit = 0; bit < 8; bit++)
		{
			seal_status want = i == 0 ? SEAL_ERR_VERSION : SEAL_ERR_AUTH;
			seal_status st;

			sealed[i] ^= (uint8_t) (1 << bit);
			st = seal_decrypt(key1, (const uint8_t *) CTX, CTXLEN, sealed,
							  slen, opened, sizeof(opened), &olen);
			sealed[i] ^= (uint8_t) (1 << bit);
			if (st != want || olen != 0)
			{
				failures++;
				UNIT_CHECK(0, "tamper byte %zu bit %d: got \"%s\"", i, bit,
						   seal_strerror(st));
			}
		}
	}
	UNIT_CHECK(failures == 0, "tamper: all %zu bytes refused", slen);
	UNIT_CHECK(seal_decrypt(key1, (const uint8_t *) CTX, CTXLEN, sealed, slen,
							opened, sizeof(opened), &olen) == SEAL_OK,
			   "tamper: the restored value opens");
}

static void
test_truncation(void)
{
	const char	pt[] = "truncate me";
	uint8_t		sealed[128];
	uint8_t		opened[128];
	size_t		slen;
	size_t		olen;

	seal_encrypt(key1, 1, NULL, 0, (const uint8_t *) pt, sizeof(pt) - 1,
				 sealed, sizeof(sealed), &slen);
	for (size_t n = 0; n < slen; n++)
	{
		seal_status want = n < SEAL_OVERHEAD ? SEAL_ERR_FORMAT : SEAL_ERR_AUTH;
		seal_status st;

		st = seal_decrypt(key1, NULL, 0, sealed, n, opened, sizeof(opened),
						  &olen);
		UNIT_CHECK(st == want, "truncated to %zu bytes: got \"%s\"", n,
				   seal_strerror(st));
	}
	{
		uint32_t	kid;

		UNIT_CHECK(seal_key_id(sealed, SEAL_OVERHEAD - 1, &kid) ==
				   SEAL_ERR_FORMAT, "key id of a truncated value");
		UNIT_CHECK(seal_key_id(NULL, 0, &kid) == SEAL_ERR_FORMAT,
				   "key id of nothing");
		UNIT_CHECK(seal_decrypt(key1, NULL, 0, NULL, 0, opened,
								sizeof(opened), &olen) == SEAL_ERR_FORMAT,
				   "open nothing");
	}
}

static void
test_unknown_version(void)
{
	uint8_t		sealed[64];
	uint8_t		opened[64];
	size_t		slen;
	size_t		olen;
	uint32_t	kid;

	seal_encrypt(key1, 9, NULL, 0, (const uint8_t *) "v", 1, sealed,
				 sizeof(sealed), &slen);
	sealed[0] = 2;
	UNIT_CHECK(seal_key_id(sealed, slen, &kid) == SEAL_ERR_VERSION,
			   "version 2: key id refused");
	UNIT_CHECK(seal_decrypt(key1, NULL, 0, sealed, slen, opened,
							sizeof(opened), &olen) == SEAL_ERR_VERSION,
			   "version 2: open refused");
	sealed[0] = 0;
	UNIT_CHECK(seal_decrypt(key1, NULL, 0, sealed, slen, opened,
							sizeof(opened), &olen) == SEAL_ERR_VERSION,
			   "version 0: open refused");
}

static void
test_buffer_bounds(void)
{
	const char	pt[] = "sixteen bytes!!!";
	uint8_t		sealed[128];
	uint8_t		opened[16];
	size_t		slen;
	size_t		olen;

	UNIT_CHECK(seal_encrypt(key1, 1, NULL, 0, (const uint8_t *) pt, 16,
							sealed, 16 + SEAL_OVERHEAD - 1, &slen) ==
			   SEAL_ERR_SPACE && slen == 0, "seal: one byte short");
	UNIT_CHECK(seal_encrypt(key1, 1, NULL, 0, (const uint8_t *) pt, 16,
							sealed, 16 + SEAL_OVERHEAD, &slen) == SEAL_OK,
			   "seal: exact buffer");
	UNIT_CHECK(seal_decrypt(key1, NULL, 0, sealed, slen, opened, 15,
							&olen) == SEAL_ERR_SPACE && olen == 0,
			   "open: one byte short");
	UNIT_CHECK(seal_decrypt(key1, NULL, 0, sealed, slen, opened, 16,
							&olen) == SEAL_OK && olen == 16,
			   "open: exact buffer");
	UNIT_CHECK(seal_encrypt(key1, 1, NULL, 5, (const uint8_t *) pt, 16,
							sealed, sizeof(sealed), &slen) ==
			   SEAL_ERR_TOO_LARGE, "seal: NULL context with a length");
	UNIT_CHECK(seal_sealed_len(SEAL_MAX_PLAINTEXT + 1) == 0,
			   "sealed_len over the limit");
	UNIT_CHECK(seal_opened_len(SEAL_OVERHEAD - 1) == 0,
			   "opened_len of a short value");
}

/* Random nonces: sealing twice never gives the same bytes. */
static void
test_nonces_differ(void)
{
	uint8_t		a[64];
	uint8_t		b[64];
	size_t		alen;
	size_t		blen;

	seal_encrypt(key1, 1, NULL, 0, (const uint8_t *) "same", 4, a, sizeof(a),
				 &alen);
	seal_encrypt(key1, 1, NULL, 0, (const uint8_t *) "same", 4, b, sizeof(b),
				 &blen);
	UNIT_CHECK(alen == blen && memcmp(a + SEAL_HEADER_LEN,
									  b + SEAL_HEADER_LEN,
									  SEAL_NONCE_LEN) != 0,
			   "two seals use two nonces");
	UNIT_CHECK(memcmp(a, b, alen) != 0, "two seals differ");
}

/* A large value exercises whole blocks and a partial one. */
static void
test_large_value(void)
{
	size_t		n = 100003;
	uint8_t    *pt = malloc(n);
	uint8_t    *sealed = malloc(n + SEAL_OVERHEAD);
	uint8_t    *opened = malloc(n);
	size_t		slen;
	size_t		olen;

	for (size_t i = 0; i < n; i++)
		pt[i] = (uint8_t) (i * 31 + 7);
	UNIT_CHECK(seal_encrypt(key1, 5, (const uint8_t *) CTX, CTXLEN, pt, n,
							sealed, n + SEAL_OVERHEAD, &slen) == SEAL_OK,
			   "large: seal");
	UNIT_CHECK(seal_decrypt(key1, (const uint8_t *) CTX, CTXLEN, sealed, slen,
							opened, n, &olen) == SEAL_OK &&
			   olen == n && memcmp(opened, pt, n) == 0, "large: round trip");
	free(pt);
	free(sealed);
	free(opened);
}

int
main(void)
{
	test_round_trip_table();
	test_wrong_table();
	test_every_byte_tampered();
	test_truncation();
	test_unknown_version();
	test_buffer_bounds();
	test_nonces_differ();
	test_large_value();
	return UNIT_MAIN_END();
}
