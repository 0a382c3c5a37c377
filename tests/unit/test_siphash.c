/*
 * test_siphash.c
 *		core/siphash against the test vectors of the SipHash paper: key
 *		00..0f, messages 00..(n-1), outputs as the paper lists their bytes
 *		(little-endian), at lengths around the 8-byte block edges.
 */
#include "unit.h"

#include "siphash.h"

static const struct
{
	size_t		len;
	unsigned char out[8];
}			vectors[] = {
	{0, {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72}},
	{1, {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74}},
	{7, {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab}},
	{8, {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93}},
	{15, {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1}},
	{63, {0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95}},
};

int
main(void)
{
	unsigned char key[SIPHASH_KEY_LEN];
	unsigned char msg[64];
	size_t		i;
	int			b;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char) i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char) i;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
	{
		uint64_t	want = 0;

		for (b = 7; b >= 0; b--)
			want = want << 8 | vectors[i].out[b];
		UNIT_CHECK(siphash24(key, msg, vectors[i].len) == want,
				   "SipHash-2-4 of %zu bytes", vectors[i].len);
	}
	key[0] ^= 1;
	UNIT_CHECK(siphash24(key, msg, 15) != 0xa129ca6149be45e5ULL,
			   "another key, another hash");
	return UNIT_MAIN_END();
}
