/*
 * test_cookie.c
 *		Tests of core/cookie: finding a cookie among others, prefixes that
 *		are not it, quotes, spaces, duplicates, empty values and the size
 *		limit.
 */
#include "unit.h"

#include "cookie.h"

#include <stddef.h>

typedef struct CookieCase
{
	const char *header;
	const char *want;			/* NULL: not found */
} CookieCase;

static const CookieCase cases[] = {
	{"at=abc", "abc"},
	{"theme=dark; at=abc.def-ghi; lang=en", "abc.def-ghi"},
	{"xat=1; at_=2; at=3", "3"},
	{"at=\"quoted\"", "quoted"},
	{"a=1;at=tight", "tight"},
	{"at=trailing  ; b=2", "trailing"},
	{"theme=dark", NULL},
	{"at=", NULL},
	{"at=\"\"", NULL},
	{"at=1; at=2", NULL},
	{"", NULL},
	{"at", NULL},
	{"at=0123456789012345678901234567890123456789", NULL},
};

int
main(void)
{
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		out[32];
		bool		got = cookie_get(cases[i].header, "at", out, sizeof(out));

		UNIT_CHECK(got == (cases[i].want != NULL), "\"%s\": found %d", cases[i].header, got);
		if (got && cases[i].want != NULL)
			UNIT_CHECK(strcmp(out, cases[i].want) == 0, "\"%s\": value \"%s\"", cases[i].header, out);
	}
	return UNIT_MAIN_END();
}
