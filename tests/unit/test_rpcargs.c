/*
 * test_rpcargs.c
 *		Tests of core/rpcargs: function names and request targets (traversal,
 *		schema-qualified and quoted names, escapes), JSON bodies (every kind
 *		of value, numbers kept as written, escapes and surrogates, malformed
 *		and hostile documents, duplicates, limits), query strings, and values
 *		as SQL text input (arrays, JSON, quoting), with exact-size buffers so
 *		AddressSanitizer sees any overrun.
 */
#include "unit.h"

#include "rpcargs.h"

#include <stdlib.h>

/* --- names and targets ----------------------------------------------------- */

typedef struct NameCase
{
	const char *name;
	bool		valid;
} NameCase;

static const NameCase name_cases[] = {
	{"a", true},
	{"_", true},
	{"get_user2", true},
	{"_private", true},
	{"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", true},	/* 63 */
	{"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", false},	/* 64 */
	{"", false},
	{"A", false},
	{"getUser", false},
	{"2fa", false},
	{"a-b", false},
	{"a.b", false},
	{"pg_catalog.x", false},
	{"../warden.login", false},
	{"\"x\"", false},
	{"a b", false},
	{"a%62", false},
	{"caf\xc3\xa9", false},
	{"a$", false},
	{"a;b", false},
};

static void
test_names(void)
{
	size_t		i;

	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++)
	{
		const NameCase *c = &name_cases[i];

		UNIT_CHECK(rpcargs_name_valid(c->name, strlen(c->name)) == c->valid,
				   "name \"%s\": valid should be %d", c->name, c->valid);
	}
	/* a NUL inside the length is no name character */
	UNIT_CHECK(!rpcargs_name_valid("ab\0c", 4), "name with NUL accepted");
}

typedef struct TargetCase
{
	const char *target;
	bool		ok;
	const char *name;
	const char *query;			/* NULL: none */
} TargetCase;

static const TargetCase target_cases[] = {
	{"/v1/rpc/add", true, "add", NULL},
	{"/v1/rpc/add?a=1&b=2", true, "add", "a=1&b=2"},
	{"/v1/rpc/add?", true, "add", ""},
	{"/v1/rpc/add?x?y", true, "add", "x?y"},
	{"/v1/rpc/", false, NULL, NULL},
	{"/v1/rpc/?a=1", false, NULL, NULL},
	{"/v1/rpc", false, NULL, NULL},
	{"/v1/rpcadd", false, NULL, NULL},
	{"/v1/rpc/../warden.login", false, NULL, NULL},
	{"/v1/rpc/..%2fwarden.login", false, NULL, NULL},
	{"/v1/rpc/%2e%2e", false, NULL, NULL},
	{"/v1/rpc/add/", false, NULL, NULL},
	{"/v1/rpc/add/x", false, NULL, NULL},
	{"/v1/rpc/pg_catalog.pg_sleep", false, NULL, NULL},
	{"/v1/rpc/warden.login", false, NULL, NULL},
	{"/v1/rpc/\"Add\"", false, NULL, NULL},
	{"/v1/rpc/%61dd", false, NULL, NULL},
	{"/v1/rpc/add%00", false, NULL, NULL},
	{"/v1/rpc/add;drop", false, NULL, NULL},
	{"/v1/rpc/add#frag", false, NULL, NULL},
	{"/v1/rpc//add", false, NULL, NULL},
	{"/V1/rpc/add", false, NULL, NULL},
};

static void
test_targets(void)
{
	size_t		i;

	for (i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++)
	{
		const TargetCase *c = &target_cases[i];
		size_t		len = strlen(c->target);
		char	   *t = malloc(len);	/* exact: ASan sees overreads */
		const char *name = NULL;
		const char *query = NULL;
		size_t		nlen = 0;
		size_t		qlen = 0;
		bool		ok;

		memcpy(t, c->target, len);
		ok = rpcargs_target(t, len, "/v1/rpc/", &name, &nlen, &query, &qlen);
		UNIT_CHECK(ok == c->ok, "target \"%s\": ok %d, want %d", c->target, ok, c->ok);
		if (ok && c->ok)
		{
			UNIT_CHECK_MEM(name, nlen, c->name, strlen(c->name), "target \"%s\": name", c->target);
			UNIT_CHECK((query == NULL) == (c->query == NULL), "target \"%s\": query presence", c->target);
			if (query != NULL && c->query != NULL)
				UNIT_CHECK_MEM(query, qlen, c->query, strlen(c->query), "target \"%s\": query", c->target);
		}
		free(t);
	}
}

/* --- JSON bodies ------------------------------------------------------------- */

typedef struct JsonCase
{
	const char *body;
	RpcArgsStatus status;
	int			n;
	const char *name0;
	RpcValueKind kind0;
	const char *text0;			/* NULL: no text */
} JsonCase;

static const JsonCase json_cases[] = {
	{"", RPCARGS_OK, 0, NULL, 0, NULL},
	{" \r\n\t", RPCARGS_OK, 0, NULL, 0, NULL},
	{"{}", RPCARGS_OK, 0, NULL, 0, NULL},
	{" { } \n", RPCARGS_OK, 0, NULL, 0, NULL},
	{"{\"a\":1}", RPCARGS_OK, 1, "a", RPCV_NUMBER, "1"},
	{"{\"a\" : \"x\" , \"b\":2}", RPCARGS_OK, 2, "a", RPCV_STRING, "x"},
	{"{\"a\":null}", RPCARGS_OK, 1, "a", RPCV_NULL, NULL},
	{"{\"a\":true}", RPCARGS_OK, 1, "a", RPCV_BOOL, "true"},
	{"{\"a\":false}", RPCARGS_OK, 1, "a", RPCV_BOOL, "false"},
	{"{\"a\":[1,{\"b\":[]}]}", RPCARGS_OK, 1, "a", RPCV_ARRAY, NULL},
	{"{\"a\":{\"b\":1,\"b\":2}}", RPCARGS_OK, 1, "a", RPCV_OBJECT, NULL},
	{"{\"a\":1.50e+3}", RPCARGS_OK, 1, "a", RPCV_NUMBER, "1.50e+3"},
	{"{\"a\":-0.1E-2}", RPCARGS_OK, 1, "a", RPCV_NUMBER, "-0.1E-2"},
	/* digits a double would lose, and an integer jansson would refuse */
	{"{\"n\":123456789012345678901234567890.000000000000000000001}", RPCARGS_OK, 1, "n",
	RPCV_NUMBER, "123456789012345678901234567890.000000000000000000001"},
	{"{\"a\":\"\\u00e9\\ud83d\\ude00\"}", RPCARGS_OK, 1, "a", RPCV_STRING, "\xc3\xa9\xf0\x9f\x98\x80"},
	{"{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", RPCARGS_OK, 1, "a", RPCV_STRING, "\"\\/\b\f\n\r\t"},
	{"{\"a\":\"caf\xc3\xa9\"}", RPCARGS_OK, 1, "a", RPCV_STRING, "caf\xc3\xa9"},
	{"{\"a\\u0062\":1}", RPCARGS_OK, 1, "ab", RPCV_NUMBER, "1"},
	{"{\"Name With Spaces\":\"\"}", RPCARGS_OK, 1, "Name With Spaces", RPCV_STRING, ""},
	{"{\"a\":\"x\x7fy\"}", RPCARGS_OK, 1, "a", RPCV_STRING, "x\x7fy"},

	{"{", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":1,}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{,}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":1}x", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":1}{}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":01}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":1.}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":.5}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":+1}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":1e}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":-}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":NaN}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":Infinity}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":tru}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":nulll}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\\u0000\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\\u0000\":1}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\\ud800\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\\ud800\\u0041\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\\udc00\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\\u12\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\\x41\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"tab\there\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\xff\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\xc3\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\xc0\xaf\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"\xed\xa0\x80\"}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":\"unterminated}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{'a':1}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{a:1}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":1 \"b\":2}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":[1,]}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":[1 2]}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":{\"b\"}}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":{\"b\":1,}}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":[}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"{\"a\":[1}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"/*c*/{}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"\xef\xbb\xbf{}", RPCARGS_MALFORMED, 0, NULL, 0, NULL},
	{"a=1&b=2", RPCARGS_MALFORMED, 0, NULL, 0, NULL},

	{"[]", RPCARGS_NOT_OBJECT, 0, NULL, 0, NULL},
	{"[{\"a\":1}]", RPCARGS_NOT_OBJECT, 0, NULL, 0, NULL},
	{" 42 ", RPCARGS_NOT_OBJECT, 0, NULL, 0, NULL},
	{"\"a\"", RPCARGS_NOT_OBJECT, 0, NULL, 0, NULL},
	{"null", RPCARGS_NOT_OBJECT, 0, NULL, 0, NULL},

	{"{\"a\":1,\"a\":2}", RPCARGS_DUPLICATE, 0, NULL, 0, NULL},
	{"{\"a\":1,\"\\u0061\":2}", RPCARGS_DUPLICATE, 0, NULL, 0, NULL},
	{"{\"\":1}", RPCARGS_BAD_NAME, 0, NULL, 0, NULL},
	{"{\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl\":1}",
	RPCARGS_BAD_NAME, 0, NULL, 0, NULL},
};

static void
test_json(void)
{
	size_t		i;

	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++)
	{
		const JsonCase *c = &json_cases[i];
		size_t		len = strlen(c->body);
		char	   *body = malloc(len ? len : 1);
		char	   *buf = malloc(len + 1);
		RpcArg		args[RPCARGS_MAX];
		int			n = -1;
		RpcArgsStatus st;

		memcpy(body, c->body, len);
		st = rpcargs_from_json(body, len, buf, len + 1, args, &n);
		UNIT_CHECK(st == c->status, "json '%s': status %d (%s), want %d",
				   c->body, st, rpcargs_strerror(st), c->status);
		if (st == RPCARGS_OK && c->status == RPCARGS_OK)
		{
			UNIT_CHECK(n == c->n, "json '%s': %d arguments, want %d", c->body, n, c->n);
			if (n > 0 && c->n > 0)
			{
				UNIT_CHECK(strcmp(args[0].name, c->name0) == 0, "json '%s': name '%s'",
						   c->body, args[0].name);
				UNIT_CHECK(args[0].kind == c->kind0, "json '%s': kind %d, want %d",
						   c->body, args[0].kind, c->kind0);
				if (c->text0 != NULL)
					UNIT_CHECK(args[0].text != NULL && strcmp(args[0].text, c->text0) == 0,
							   "json '%s': text '%s'", c->body,
							   args[0].text ? args[0].text : "(null)");
				else
					UNIT_CHECK(args[0].text == NULL, "json '%s': unexpected text", c->body);
			}
		}
		free(body);
		free(buf);
	}
}

/* Bodies built to a size: the argument limit and the nesting limit. */
static void
test_json_limits(void)
{
	char		body[8192];
	char		buf[sizeof(body) + 1];
	RpcArg		args[RPCARGS_MAX];
	size_t		len;
	int			n;
	int			i;

	for (int count = RPCARGS_MAX; count <= RPCARGS_MAX + 1; count++)
	{
		len = 0;
		body[len++] = '{';
		for (i = 0; i < count; i++)
			len += (size_t) snprintf(body + len, sizeof(body) - len, "%s\"a%d\":%d",
									 i ? "," : "", i, i);
		body[len++] = '}';
		UNIT_CHECK(rpcargs_from_json(body, len, buf, len + 1, args, &n) ==
				   (count <= RPCARGS_MAX ? RPCARGS_OK : RPCARGS_TOO_MANY),
				   "%d arguments", count);
		if (count == RPCARGS_MAX)
			UNIT_CHECK(n == RPCARGS_MAX && strcmp(args[99].name, "a99") == 0 &&
					   strcmp(args[99].text, "99") == 0, "the 100th argument");
	}
	for (int depth = RPCARGS_DEPTH_MAX; depth <= RPCARGS_DEPTH_MAX + 1; depth++)
	{
		len = (size_t) snprintf(body, sizeof(body), "{\"a\":");
		/* objects and arrays in turn: {"k":[{"k":[...]}]} */
		for (i = 0; i < depth; i++)
			len += (size_t) snprintf(body + len, sizeof(body) - len, "%s",
									 i % 2 ? "[" : "{\"k\":");
		body[len++] = '1';
		for (i = depth - 1; i >= 0; i--)
			body[len++] = i % 2 ? ']' : '}';
		body[len++] = '}';
		UNIT_CHECK(rpcargs_from_json(body, len, buf, len + 1, args, &n) ==
				   (depth <= RPCARGS_DEPTH_MAX ? RPCARGS_OK : RPCARGS_TOO_DEEP),
				   "nesting %d deep", depth);
	}
	/* a deep array outside any argument: refused without recursion */
	memset(body, '[', sizeof(body));
	UNIT_CHECK(rpcargs_from_json(body, sizeof(body), buf, sizeof(buf), args, &n) ==
			   RPCARGS_MALFORMED, "8192 '[' as a body");
	UNIT_CHECK(rpcargs_from_json("{}", 2, buf, 2, args, &n) == RPCARGS_MALFORMED,
			   "a buffer one byte short");
}

/* --- query strings --------------------------------------------------------- */

static void
test_query(void)
{
	char		buf[512];
	RpcArg		args[RPCARGS_MAX];
	int			n;
	const char *q;
	char		many[1024];
	size_t		len = 0;
	int			i;

	q = "a=1&b=x+y&ids=%7B1,2%7D&flag";
	UNIT_CHECK(rpcargs_from_query(q, strlen(q), buf, sizeof(buf), args, &n) == RPCARGS_OK &&
			   n == 4, "query: four arguments");
	UNIT_CHECK(strcmp(args[0].name, "a") == 0 && args[0].kind == RPCV_TEXT &&
			   strcmp(args[0].text, "1") == 0, "query: a=1");
	UNIT_CHECK(strcmp(args[1].text, "x y") == 0, "query: '+' is a space");
	UNIT_CHECK(strcmp(args[2].text, "{1,2}") == 0, "query: an array literal as given");
	UNIT_CHECK(strcmp(args[3].name, "flag") == 0 && strcmp(args[3].text, "") == 0,
			   "query: a name alone is an empty value");
	UNIT_CHECK(rpcargs_from_query("", 0, buf, sizeof(buf), args, &n) == RPCARGS_OK && n == 0,
			   "query: empty");
	q = "a=1&a=2";
	UNIT_CHECK(rpcargs_from_query(q, strlen(q), buf, sizeof(buf), args, &n) == RPCARGS_DUPLICATE,
			   "query: duplicate");
	q = "a=%zz";
	UNIT_CHECK(rpcargs_from_query(q, strlen(q), buf, sizeof(buf), args, &n) == RPCARGS_MALFORMED,
			   "query: bad escape");
	q = "a=x%00y";
	UNIT_CHECK(rpcargs_from_query(q, strlen(q), buf, sizeof(buf), args, &n) == RPCARGS_MALFORMED,
			   "query: NUL");
	q = "a=%ff";
	UNIT_CHECK(rpcargs_from_query(q, strlen(q), buf, sizeof(buf), args, &n) == RPCARGS_MALFORMED,
			   "query: not UTF-8");
	q = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl=1";
	UNIT_CHECK(rpcargs_from_query(q, strlen(q), buf, sizeof(buf), args, &n) == RPCARGS_BAD_NAME,
			   "query: a 64-byte name");
	for (i = 0; i <= RPCARGS_MAX; i++)
		len += (size_t) snprintf(many + len, sizeof(many) - len, "%sa%d", i ? "&" : "", i);
	UNIT_CHECK(rpcargs_from_query(many, len, buf, sizeof(buf), args, &n) == RPCARGS_TOO_MANY,
			   "query: 101 arguments");
}

/* --- values as SQL text -------------------------------------------------------- */

typedef struct ValueCase
{
	const char *body;			/* {"a": value} */
	RpcArgType	type;
	const char *want;			/* NULL: refused (-1) */
} ValueCase;

static const ValueCase value_cases[] = {
	{"{\"a\":\"x y\"}", RPCT_SCALAR, "x y"},
	{"{\"a\":\"x y\"}", RPCT_JSON, "\"x y\""},
	{"{\"a\":\"{1,2}\"}", RPCT_ARRAY, "{1,2}"},
	{"{\"a\":\"\\u00e9\"}", RPCT_SCALAR, "\xc3\xa9"},
	{"{\"a\":\"\\u00e9\"}", RPCT_JSON, "\"\\u00e9\""},
	{"{\"a\":42}", RPCT_SCALAR, "42"},
	{"{\"a\":1e400}", RPCT_SCALAR, "1e400"},
	{"{\"a\":42}", RPCT_JSON, "42"},
	{"{\"a\":true}", RPCT_SCALAR, "true"},
	{"{\"a\":null}", RPCT_SCALAR, NULL},
	{"{\"a\":null}", RPCT_JSON, NULL},
	{"{\"a\":{\"k\": [1]}}", RPCT_JSON, "{\"k\": [1]}"},
	{"{\"a\":{\"k\":1}}", RPCT_SCALAR, NULL},
	{"{\"a\":{\"k\":1}}", RPCT_ARRAY, NULL},
	{"{\"a\":[1, \"two\", null, true]}", RPCT_ARRAY, "{\"1\",\"two\",NULL,\"true\"}"},
	{"{\"a\":[1, \"two\", null, true]}", RPCT_JSON, "[1, \"two\", null, true]"},
	{"{\"a\":[1]}", RPCT_SCALAR, NULL},
	{"{\"a\":[\"q\\\"uote\",\"back\\\\slash\",\"NULL\",\"a,b\",\"{}\"]}", RPCT_ARRAY,
	"{\"q\\\"uote\",\"back\\\\slash\",\"NULL\",\"a,b\",\"{}\"}"},
	{"{\"a\":[[1,2],[3,4]]}", RPCT_ARRAY, "{{\"1\",\"2\"},{\"3\",\"4\"}}"},
	{"{\"a\":[]}", RPCT_ARRAY, "{}"},
	{"{\"a\":[ ]}", RPCT_JSON_ARRAY, "{}"},
	{"{\"a\":[\"\\u00e9\"]}", RPCT_ARRAY, "{\"\xc3\xa9\"}"},
	{"{\"a\":[{\"x\":1}]}", RPCT_ARRAY, NULL},
	{"{\"a\":[{\"x\":\"y\"},[2],null,\"s\"]}", RPCT_JSON_ARRAY,
	"{\"{\\\"x\\\":\\\"y\\\"}\",\"[2]\",NULL,\"\\\"s\\\"\"}"},
	{"{\"a\":[[[[[[1]]]]]]}", RPCT_ARRAY, "{{{{{{\"1\"}}}}}}"},
	{"{\"a\":[[[[[[[1]]]]]]]}", RPCT_ARRAY, NULL},
};

static void
test_values(void)
{
	size_t		i;

	for (i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++)
	{
		const ValueCase *c = &value_cases[i];
		size_t		len = strlen(c->body);
		char		buf[256];
		RpcArg		args[RPCARGS_MAX];
		int			n;
		long		need;
		char	   *out;

		if (rpcargs_from_json(c->body, len, buf, sizeof(buf), args, &n) != RPCARGS_OK || n != 1)
		{
			UNIT_CHECK(false, "value '%s': body not parsed", c->body);
			continue;
		}
		need = rpcargs_value_text(&args[0], c->type, NULL, 0);
		if (c->want == NULL)
		{
			UNIT_CHECK(need == -1, "value '%s' type %d: accepted as %ld bytes", c->body, c->type, need);
			continue;
		}
		UNIT_CHECK(need == (long) strlen(c->want), "value '%s' type %d: length %ld, want %zu",
				   c->body, c->type, need, strlen(c->want));
		if (need < 0)
			continue;
		/* one byte short writes nothing past it; exactly enough completes */
		out = malloc((size_t) need + 1);
		memset(out, 'Z', (size_t) need + 1);
		UNIT_CHECK(rpcargs_value_text(&args[0], c->type, out, (size_t) need) == need,
				   "value '%s': short buffer", c->body);
		UNIT_CHECK(rpcargs_value_text(&args[0], c->type, out, (size_t) need + 1) == need,
				   "value '%s': exact buffer", c->body);
		UNIT_CHECK_MEM(out, strlen(out), c->want, strlen(c->want), "value '%s' type %d", c->body, c->type);
		free(out);
	}
}

static void
test_quote(void)
{
	static const char *const cases[][2] = {
		{"add", "\"add\""},
		{"a\"b", "\"a\"\"b\""},
		{"\"", "\"\"\"\""},
		{"", "\"\""},
		{"x y;drop", "\"x y;drop\""},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		long		need = rpcargs_quote_ident(cases[i][0], NULL, 0);
		char	   *out = malloc((size_t) need + 1);

		UNIT_CHECK(need == (long) strlen(cases[i][1]), "quote '%s': length %ld", cases[i][0], need);
		UNIT_CHECK(rpcargs_quote_ident(cases[i][0], out, (size_t) need) == need,
				   "quote '%s': short buffer", cases[i][0]);
		UNIT_CHECK(rpcargs_quote_ident(cases[i][0], out, (size_t) need + 1) == need &&
				   strcmp(out, cases[i][1]) == 0, "quote '%s': got '%s'", cases[i][0], out);
		free(out);
	}
}

int
main(void)
{
	test_names();
	test_targets();
	test_json();
	test_json_limits();
	test_query();
	test_values();
	test_quote();
	return UNIT_MAIN_END();
}
