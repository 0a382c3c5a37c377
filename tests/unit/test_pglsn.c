/*
 * test_pglsn.c
 *		Table-driven tests of core/pglsn: what PostgreSQL's pg_lsn input
 *		takes, and nothing more.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pglsn.h"

typedef struct lsn_case
{
	const char *name;
	const char *text;
	bool		ok;
	uint64_t	want;
} lsn_case;

static const lsn_case cases[] = {
	{"zero", "0/0", true, 0},
	{"a typical one", "0/16B3748", true, 0x16B3748},
	{"lower case", "1a/ff", true, 0x1A000000FFull},
	{"both halves full", "FFFFFFFF/FFFFFFFF", true, UINT64_MAX},
	{"leading zeros up to eight", "00000001/00000002", true, 0x100000002ull},
	{"nine digits high", "000000001/0", false, 0},
	{"nine digits low", "0/000000001", false, 0},
	{"empty", "", false, 0},
	{"no slash", "16B3748", false, 0},
	{"empty high", "/1", false, 0},
	{"empty low", "1/", false, 0},
	{"two slashes", "1/2/3", false, 0},
	{"leading blank", " 0/1", false, 0},
	{"trailing blank", "0/1 ", false, 0},
	{"sign", "+0/1", false, 0},
	{"0x prefix", "0x0/1", false, 0},
	{"not hex", "0/1G", false, 0},
	{"decimal point", "0/1.5", false, 0},
};

static void
test_parse(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const lsn_case *c = &cases[i];
		uint64_t	got = 12345;
		bool		ok = pglsn_parse(c->text, strlen(c->text), &got);

		UNIT_CHECK(ok == c->ok, "%s: parse gives %d", c->name, ok);
		if (ok && c->ok)
			UNIT_CHECK(got == c->want, "%s: got %llx, want %llx", c->name,
					   (unsigned long long) got, (unsigned long long) c->want);
	}
	/* the length bounds the text: a NUL-less buffer, and an embedded NUL */
	{
		uint64_t	got;

		UNIT_CHECK(pglsn_parse("0/1XYZ", 3, &got) && got == 1, "length bounds the text");
		UNIT_CHECK(!pglsn_parse("0/1\0", 4, &got), "an embedded NUL is refused");
	}
}

static void
test_format(void)
{
	static const uint64_t values[] = {0, 1, 0x16B3748, 0x1A000000FFull, UINT64_MAX};
	char		text[PGLSN_TEXT_MAX];

	UNIT_CHECK(pglsn_format(0x16B3748, text) == 9 && strcmp(text, "0/16B3748") == 0,
			   "format: as PostgreSQL writes it, got %s", text);
	UNIT_CHECK(pglsn_format(UINT64_MAX, text) == PGLSN_TEXT_MAX - 1 &&
			   strcmp(text, "FFFFFFFF/FFFFFFFF") == 0, "format: the longest, got %s", text);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
	{
		uint64_t	back = 0;
		int			n = pglsn_format(values[i], text);

		UNIT_CHECK(pglsn_parse(text, (size_t) n, &back) && back == values[i],
				   "round trip of %llx through %s", (unsigned long long) values[i], text);
	}
}

int
main(void)
{
	test_parse();
	test_format();
	return UNIT_MAIN_END();
}
