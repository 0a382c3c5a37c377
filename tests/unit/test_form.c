/*
 * test_form.c
 *		Tests of core/form: decoding, '+' and percent escapes, empty pairs
 *		and values, duplicates, malformed escapes, NULs, invalid UTF-8, the
 *		field limit, and the buffer bound.
 */
#include "unit.h"

#include "form.h"

#include <stddef.h>

typedef struct FormCase
{
	const char *body;
	FormStatus	status;
	int			n;
	const char *name0;
	const char *value0;
	const char *name1;
	const char *value1;
} FormCase;

static const FormCase cases[] = {
	{"", FORM_OK, 0, NULL, NULL, NULL, NULL},
	{"grant_type=password", FORM_OK, 1, "grant_type", "password", NULL, NULL},
	{"a=1&b=2", FORM_OK, 2, "a", "1", "b", "2"},
	{"a=hello+world&b=%26%3D%2B", FORM_OK, 2, "a", "hello world", "b", "&=+"},
	{"pass%77ord=p%C3%A4ss", FORM_OK, 1, "password", "p\xc3\xa4ss", NULL, NULL},
	{"a=&b", FORM_OK, 2, "a", "", "b", ""},
	{"&&a=1&&", FORM_OK, 1, "a", "1", NULL, NULL},
	{"a=1=2", FORM_OK, 1, "a", "1=2", NULL, NULL},
	{"a=%7e%7E", FORM_OK, 1, "a", "~~", NULL, NULL},
	{"a=1&a=2", FORM_DUPLICATE, 0, NULL, NULL, NULL, NULL},
	{"a=1&%61=2", FORM_DUPLICATE, 0, NULL, NULL, NULL, NULL},
	{"=1", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%4", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%zz", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%00", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a%00=1", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%C3", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%C0%AF", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%ED%A0%80", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%F4%90%80%80", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=\xff", FORM_MALFORMED, 0, NULL, NULL, NULL, NULL},
	{"a=%F0%9F%98%80", FORM_OK, 1, "a", "\xf0\x9f\x98\x80", NULL, NULL},
};

static void
test_cases(void)
{
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const FormCase *c = &cases[i];
		size_t		len = strlen(c->body);
		char		buf[128];
		FormField	f[4];
		int			n = 4;
		FormStatus	st = form_parse(c->body, len, buf, len + 1, f, &n);

		UNIT_CHECK(st == c->status, "\"%s\": status %d, want %d", c->body, st, c->status);
		if (st != FORM_OK || c->status != FORM_OK)
			continue;
		UNIT_CHECK(n == c->n, "\"%s\": %d fields, want %d", c->body, n, c->n);
		if (n >= 1 && c->n >= 1)
			UNIT_CHECK(strcmp(f[0].name, c->name0) == 0 && strcmp(f[0].value, c->value0) == 0,
					   "\"%s\": first field", c->body);
		if (n >= 2 && c->n >= 2)
			UNIT_CHECK(strcmp(f[1].name, c->name1) == 0 && strcmp(f[1].value, c->value1) == 0,
					   "\"%s\": second field", c->body);
	}
}

static void
test_limits(void)
{
	char		buf[64];
	FormField	f[2];
	int			n = 2;

	UNIT_CHECK(form_parse("a=1&b=2&c=3", 11, buf, sizeof(buf), f, &n) == FORM_TOO_MANY,
			   "more fields than room");
	n = 2;
	UNIT_CHECK(form_parse("a=1", 3, buf, 3, f, &n) == FORM_MALFORMED,
			   "a buffer under len + 1 is refused");
	n = 2;
	UNIT_CHECK(form_parse("a&b", 3, buf, 4, f, &n) == FORM_OK && n == 2 &&
			   strcmp(f[0].name, "a") == 0 && f[0].value[0] == '\0' &&
			   strcmp(f[1].name, "b") == 0 && f[1].value[0] == '\0',
			   "len + 1 suffices for names without '='");
	n = 2;
	UNIT_CHECK(form_parse("a=1&b=2", 3, buf, 5, f, &n) == FORM_OK && n == 1,
			   "only len bytes are read");
	UNIT_CHECK(form_get(f, n, "a") != NULL && form_get(f, n, "b") == NULL,
			   "form_get finds a field and misses another");
}

int
main(void)
{
	test_cases();
	test_limits();
	return UNIT_MAIN_END();
}
