/*
 * test_route.c
 *		Tests of core/route: pattern and template checks, matching (query
 *		strings, trailing slashes, traversal, encoded separators, second
 *		spellings, captured values that could widen a resource), expansion
 *		and precedence.
 */
#include "unit.h"

#include "route.h"

typedef struct CheckCase
{
	const char *pattern;
	const char *resource;
	bool		ok;
} CheckCase;

static const CheckCase checks[] = {
	{"/documents/{id}", "document:{id}", true},
	{"/", "service:root", true},
	{"/a/{x}/b/{y}", "thing:{x}:{y}", true},
	{"/documents/{id}", NULL, true},
	{"/users/@me:profile", "user:me", true},
	{"documents/{id}", "document:{id}", false},
	{"/documents//{id}", "document:{id}", false},
	{"/documents/", "document:*", false},
	{"/documents/../admin", "admin", false},
	{"/documents/{id}/{id}", "document:{id}", false},
	{"/documents/{Id}", "document:{Id}", false},
	{"/documents/{1d}", "document:{1d}", false},
	{"/documents/{}", "document:x", false},
	{"/documents/{id", "document:x", false},
	{"/documents/a%2Fb", "document:x", false},
	{"/documents/a b", "document:x", false},
	{"/documents/{id}", "document:{other}", false},
	{"/documents/{id}", "document:{id", false},
	{"/documents/{id}", "document:id}", false},
	{"/documents/{id}", "", false},
	{"/a/{b}/c/{d}/e/{f}/g/{h}/i/{j}/k/{l}/m/{n}/o/{p}/q/{r}", "x", false},
};

static void
test_check(void)
{
	size_t		i;
	char		err[256];

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		UNIT_CHECK(route_check(checks[i].pattern, checks[i].resource, err, sizeof(err)) ==
				   checks[i].ok, "check %s / %s: want %s (%s)", checks[i].pattern,
				   checks[i].resource ? checks[i].resource : "-",
				   checks[i].ok ? "ok" : "refused", err);
}

typedef struct MatchCase
{
	const char *pattern;
	const char *path;
	const char *resource;		/* expanded from "r:{id}", or NULL: no match */
} MatchCase;

static const MatchCase matches[] = {
	{"/documents/{id}", "/documents/42", "r:42"},
	{"/documents/{id}", "/documents/42?x=1&y=2", "r:42"},
	{"/documents/{id}", "/documents/42#frag", "r:42"},
	{"/documents/{id}", "/documents/a-b_c.d~e", "r:a-b_c.d~e"},
	{"/documents/{id}", "/documents/%41bc", "r:Abc"},
	{"/documents/{id}", "/documents/42/", NULL},
	{"/documents/{id}", "/documents/42/x", NULL},
	{"/documents/{id}", "/documents", NULL},
	{"/documents/{id}", "/documents/", NULL},
	{"/documents/{id}", "documents/42", NULL},
	{"/documents/{id}", "/Documents/42", NULL},
	{"/documents/{id}", "/doc%75ments/42", NULL},
	{"/documents/{id}", "/documents/..", NULL},
	{"/documents/{id}", "/documents/.", NULL},
	{"/documents/{id}", "/documents/%2E%2E", NULL},
	{"/documents/{id}", "/documents/a%2Eb", NULL},
	{"/documents/{id}", "/documents/a%2eb", NULL},
	{"/documents/{id}", "/documents/a.b", "r:a.b"},
	{"/documents/{id}", "/documents/a%2Fb", NULL},
	{"/documents/{id}", "/documents/a%2fb", NULL},
	{"/documents/{id}", "/documents/a%5Cb", NULL},
	{"/documents/{id}", "/documents/a\\b", NULL},
	{"/documents/{id}", "/documents/a%00", NULL},
	{"/documents/{id}", "/documents/a%zz", NULL},
	{"/documents/{id}", "/documents/a%4", NULL},
	{"/documents/{id}", "/documents/*", NULL},
	{"/documents/{id}", "/documents/a:b", NULL},
	{"/documents/{id}", "/documents/%2A", NULL},
	{"/documents/{id}", "/documents/%3A", NULL},
	{"/documents/{id}", "/documents/a%20b", NULL},
	{"/documents/{id}", "//documents/42", NULL},
	{"/", "/", "r:"},
	{"/", "/?q", "r:"},
	{"/", "/x", NULL},
	{"/health", "/health", "r:"},
	{"/health", "/health/", NULL},
};

static void
test_match(void)
{
	size_t		i;

	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++)
	{
		const MatchCase *c = &matches[i];
		RouteVars	v;
		char		out[64];
		bool		m = route_match(c->pattern, c->path, strlen(c->path), &v);
		const char *tmpl = v.n > 0 ? "r:{id}" : "r:";

		UNIT_CHECK(m == (c->resource != NULL), "%s ~ %s: want %s", c->pattern, c->path,
				   c->resource ? "a match" : "no match");
		if (m && c->resource != NULL)
			UNIT_CHECK(route_expand(tmpl, &v, out, sizeof(out)) && strcmp(out, c->resource) == 0,
					   "%s ~ %s: resource %s", c->pattern, c->path, c->resource);
	}
}

static void
test_expand_rank(void)
{
	RouteVars	v;
	char		out[32];
	char		small[6];

	UNIT_CHECK(route_match("/t/{tenant}/d/{id}", "/t/acme/d/7", 11, &v) && v.n == 2,
			   "two placeholders captured");
	UNIT_CHECK(route_expand("tenant:{tenant}:document:{id}", &v, out, sizeof(out)) &&
			   strcmp(out, "tenant:acme:document:7") == 0, "both expanded in order");
	UNIT_CHECK(!route_expand("document:{id}", &v, small, sizeof(small)),
			   "an expansion that does not fit is refused");
	UNIT_CHECK(!route_expand("document:{nope}", &v, out, sizeof(out)),
			   "an unknown placeholder is refused");
	UNIT_CHECK(route_rank("/documents/archive") > route_rank("/documents/{id}"),
			   "a literal segment outranks a placeholder");
	UNIT_CHECK(route_rank("/a/{b}/c") > route_rank("/a/{b}/{c}"), "more literals win");
	UNIT_CHECK(route_rank("/a/{long_name}") > route_rank("/a/{b}"),
			   "between equals, the longer pattern");
}

int
main(void)
{
	test_check();
	test_match();
	test_expand_rank();
	return UNIT_MAIN_END();
}
