/*
 * test_edge_textfmt.c
 *		edge/textfmt.h against snprintf: decimals (0, one digit, powers of
 *		ten and their neighbours, UINT64_MAX), hexadecimal, bounded copies
 *		(short, exact, cut short, empty).
 */
#include "unit.h"

#include <inttypes.h>
#include <stdio.h>

#include "textfmt.h"

int
main(void)
{
	static const uint64_t decimals[] = {
		0, 1, 9, 10, 11, 99, 100, 101, 4294967295u, 4294967296u,
		999999999999999999u, 1000000000000000000u, 18446744073709551615u,
	};
	static const uint64_t hexes[] = {0, 1, 0xf, 0x10, 0xdeadbeef, 0x0123456789abcdefu, UINT64_MAX};
	static const struct
	{
		const char *s;
		size_t		outlen;
		const char *want;
	}			copies[] = {
		{"abc", 8, "abc"},
		{"abcdefg", 8, "abcdefg"},
		{"abcdefgh", 8, "abcdefg"},
		{"abcdefghijkl", 4, "abc"},
		{"", 4, ""},
		{"x", 1, ""},
	};
	char		got[TEXTFMT_U64_MAX];
	char		want[32];
	char		buf[16];

	for (size_t i = 0; i < sizeof(decimals) / sizeof(decimals[0]); i++)
	{
		size_t		n = textfmt_u64(got, decimals[i]);

		snprintf(want, sizeof(want), "%" PRIu64, decimals[i]);
		UNIT_CHECK(strcmp(got, want) == 0 && n == strlen(want),
				   "decimal row %zu: %s, want %s", i, got, want);
	}
	for (size_t i = 0; i < sizeof(hexes) / sizeof(hexes[0]); i++)
	{
		textfmt_hex64(got, hexes[i]);
		snprintf(want, sizeof(want), "%016" PRIx64, hexes[i]);
		UNIT_CHECK(strcmp(got, want) == 0, "hex row %zu: %s, want %s", i, got, want);
	}
	for (size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++)
	{
		size_t		n;

		memset(buf, 'z', sizeof(buf));
		n = textfmt_copy(buf, copies[i].outlen, copies[i].s);
		UNIT_CHECK(strcmp(buf, copies[i].want) == 0 && n == strlen(copies[i].want),
				   "copy row %zu: \"%s\", want \"%s\"", i, buf, copies[i].want);
	}
	UNIT_MAIN_END();
}
