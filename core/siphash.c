/*
 * siphash.c
 *		SipHash-2-4, written from the specification in the paper "SipHash:
 *		a fast short-input PRF"; the test vectors of its appendix are in
 *		tests/unit/test_siphash.c.
 */
#include "siphash.h"

#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

static inline uint64_t
siphash_load64(const unsigned char *p)
{
	return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16 |
		(uint64_t) p[3] << 24 | (uint64_t) p[4] << 32 | (uint64_t) p[5] << 40 |
		(uint64_t) p[6] << 48 | (uint64_t) p[7] << 56;
}

#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

uint64_t
siphash24(const unsigned char key[SIPHASH_KEY_LEN], const void *data,
		  size_t len)
{
	const unsigned char *in = data;
	uint64_t	k0 = siphash_load64(key);
	uint64_t	k1 = siphash_load64(key + 8);
	uint64_t	v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t	v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t	v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t	v3 = k1 ^ UINT64_C(0x7465646279746573);
	uint64_t	b = (uint64_t) len << 56;
	size_t		whole = len - len % 8;
	size_t		i;

	for (i = 0; i < whole; i += 8)
	{
		uint64_t	m = siphash_load64(in + i);

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	/* the last 0..7 bytes, little-endian, under the length byte */
	for (i = 0; i < len % 8; i++)
		b |= (uint64_t) in[whole + i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
