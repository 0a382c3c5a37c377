/*
 * rpcargs.c
 *		RPC requests: function names, named arguments from a query string or
 *		a JSON object, and argument values as SQL text input (see rpcargs.h).
 *
 * Why a JSON scanner of its own rather than jansson: jansson turns every
 * number into a double or a 64-bit integer, so 0.1 would reach a numeric
 * argument as 0.10000000000000001 and a 30-digit integer would not parse at
 * all. Here a number is validated and kept as written, which is exactly
 * what PostgreSQL's numeric input wants. The scanner is iterative (no
 * recursion a deep document could exhaust) and never reads past len.
 */
#include "rpcargs.h"

#include <string.h>

#include "form.h"
#include "utf8.h"

/* Output that counts what it would write and writes what fits. */
typedef struct RpcOut
{
	char	   *buf;
	size_t		cap;			/* bytes that may be written, NUL excluded */
	size_t		len;
} RpcOut;

static void
out_put(RpcOut *o, const char *s, size_t n)
{
	if (o->buf != NULL && o->len + n <= o->cap)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
out_byte(RpcOut *o, char c)
{
	out_put(o, &c, 1);
}

/* A byte of an SQL array element in double quotes: " and \ escaped. */
static void
out_quoted(RpcOut *o, char c)
{
	if (c == '"' || c == '\\')
		out_byte(o, '\\');
	out_byte(o, c);
}

static void
out_quoted_span(RpcOut *o, const char *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		out_quoted(o, s[i]);
}

/* --- names and targets ----------------------------------------------------- */

bool
rpcargs_name_valid(const char *name, size_t len)
{
	size_t		i;

	if (len == 0 || len > RPCARGS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

bool
rpcargs_target(const char *target, size_t len, const char *prefix,
			   const char **name, size_t *name_len,
			   const char **query, size_t *query_len)
{
	size_t		plen = strlen(prefix);
	const char *n;
	const char *q;
	size_t		nlen;

	if (len < plen || memcmp(target, prefix, plen) != 0)
		return false;
	n = target + plen;
	q = memchr(n, '?', len - plen);
	nlen = q != NULL ? (size_t) (q - n) : len - plen;
	if (!rpcargs_name_valid(n, nlen))
		return false;
	*name = n;
	*name_len = nlen;
	*query = q != NULL ? q + 1 : NULL;
	*query_len = q != NULL ? len - (size_t) (q + 1 - target) : 0;
	return true;
}

/* --- the JSON scanner ------------------------------------------------------ */

static const char *
json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int
json_hex4(const char *p, const char *end)
{
	int			v = 0;
	int			i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++)
	{
		char		c = p[i];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static void
json_put_utf8(RpcOut *o, unsigned cp, bool quote)
{
	char		b[4];
	size_t		n;
	size_t		i;

	if (cp < 0x80)
	{
		b[0] = (char) cp;
		n = 1;
	}
	else if (cp < 0x800)
	{
		b[0] = (char) (0xc0 | (cp >> 6));
		b[1] = (char) (0x80 | (cp & 0x3f));
		n = 2;
	}
	else if (cp < 0x10000)
	{
		b[0] = (char) (0xe0 | (cp >> 12));
		b[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char) (0x80 | (cp & 0x3f));
		n = 3;
	}
	else
	{
		b[0] = (char) (0xf0 | (cp >> 18));
		b[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char) (0x80 | (cp & 0x3f));
		n = 4;
	}
	for (i = 0; i < n; i++)
	{
		if (quote)
			out_quoted(o, b[i]);
		else
			out_byte(o, b[i]);
	}
}

/*
 * The JSON string at *pp (its opening quote): decoded into o (NULL: only
 * checked), with " and \ escaped for an SQL array element when quote is
 * set. Advances *pp past the closing quote. A decoded string is never
 * longer than its JSON text without the quotes.
 */
static RpcArgsStatus
json_string(const char **pp, const char *end, RpcOut *o, bool quote)
{
	const char *p = *pp + 1;

	for (;;)
	{
		const char *run = p;
		int			cp;

		while (p < end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
			p++;
		/* escapes and quotes are ASCII: a valid run ends on a boundary */
		if (!utf8_valid((const unsigned char *) run, (size_t) (p - run)))
			return RPCARGS_MALFORMED;
		if (o != NULL)
		{
			if (quote)
				out_quoted_span(o, run, (size_t) (p - run));
			else
				out_put(o, run, (size_t) (p - run));
		}
		if (p == end || (unsigned char) *p < 0x20)
			return RPCARGS_MALFORMED;
		if (*p == '"')
			break;
		if (++p == end)
			return RPCARGS_MALFORMED;
		switch (*p)
		{
			case '"':
			case '\\':
			case '/':
				cp = *p;
				break;
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				cp = json_hex4(p + 1, end);
				if (cp < 0)
					return RPCARGS_MALFORMED;
				p += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return RPCARGS_MALFORMED;	/* a low surrogate alone */
				if (cp >= 0xd800 && cp <= 0xdbff)
				{
					int			lo;

					if (end - p < 3 || p[1] != '\\' || p[2] != 'u' ||
						(lo = json_hex4(p + 3, end)) < 0xdc00 || lo > 0xdfff)
						return RPCARGS_MALFORMED;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
				/* SQL text cannot hold NUL */
				if (cp == 0)
					return RPCARGS_MALFORMED;
				break;
			default:
				return RPCARGS_MALFORMED;
		}
		if (o != NULL)
			json_put_utf8(o, (unsigned) cp, quote);
		p++;
	}
	*pp = p + 1;
	return RPCARGS_OK;
}

static bool
json_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at *pp. */
static bool
json_number(const char **pp, const char *end)
{
	const char *p = *pp;

	if (p < end && *p == '-')
		p++;
	if (!json_digit(p, end))
		return false;
	if (*p == '0')
		p++;
	else
		while (json_digit(p, end))
			p++;
	if (p < end && *p == '.')
	{
		if (!json_digit(++p, end))
			return false;
		while (json_digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!json_digit(p, end))
			return false;
		while (json_digit(p, end))
			p++;
	}
	*pp = p;
	return true;
}

static bool
json_literal(const char **pp, const char *end, const char *word)
{
	size_t		n = strlen(word);

	if ((size_t) (end - *pp) < n || memcmp(*pp, word, n) != 0)
		return false;
	*pp += n;
	return true;
}

/* A member's name and its colon, at *pp (after white space). */
static RpcArgsStatus
json_member_name(const char **pp, const char *end)
{
	const char *p = *pp;
	RpcArgsStatus st;

	if (p == end || *p != '"')
		return RPCARGS_MALFORMED;
	if ((st = json_string(&p, end, NULL, false)) != RPCARGS_OK)
		return st;
	p = json_ws(p, end);
	if (p == end || *p != ':')
		return RPCARGS_MALFORMED;
	*pp = p + 1;
	return RPCARGS_OK;
}

/*
 * One whole JSON value at *pp (after white space), of any kind, containers
 * nested at most max_depth deep; advances *pp past it. Iterative: the stack
 * holds the open containers' kinds.
 */
static RpcArgsStatus
json_skip(const char **pp, const char *end, int max_depth)
{
	char		stack[RPCARGS_DEPTH_MAX + 1];
	int			depth = 0;
	const char *p = *pp;
	RpcArgsStatus st;

	for (;;)
	{
		/* a value */
		p = json_ws(p, end);
		if (p == end)
			return RPCARGS_MALFORMED;
		if (*p == '{' || *p == '[')
		{
			if (depth == max_depth)
				return RPCARGS_TOO_DEEP;
			stack[depth++] = *p++;
			p = json_ws(p, end);
			if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']'))
			{
				p++;
				depth--;
			}
			else
			{
				/* the first member's name */
				if (stack[depth - 1] == '{' &&
					(st = json_member_name(&p, end)) != RPCARGS_OK)
					return st;
				continue;
			}
		}
		else if (*p == '"')
		{
			if ((st = json_string(&p, end, NULL, false)) != RPCARGS_OK)
				return st;
		}
		else if (!json_literal(&p, end, "true") && !json_literal(&p, end, "false") &&
				 !json_literal(&p, end, "null") && !json_number(&p, end))
			return RPCARGS_MALFORMED;

		/* after a value: close containers, or go on to the next value */
		for (;;)
		{
			if (depth == 0)
			{
				*pp = p;
				return RPCARGS_OK;
			}
			p = json_ws(p, end);
			if (p == end)
				return RPCARGS_MALFORMED;
			if (*p == (stack[depth - 1] == '{' ? '}' : ']'))
			{
				p++;
				depth--;
				continue;
			}
			if (*p != ',')
				return RPCARGS_MALFORMED;
			p = json_ws(p + 1, end);
			if (stack[depth - 1] == '{' &&
				(st = json_member_name(&p, end)) != RPCARGS_OK)
				return st;
			break;
		}
	}
}

/* --- arguments --------------------------------------------------------------- */

static bool
rpcargs_seen(const RpcArg *args, int n, const char *name)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(args[i].name, name) == 0)
			return true;
	return false;
}

RpcArgsStatus
rpcargs_from_query(const char *q, size_t len, char *buf, size_t buflen,
				   RpcArg *args, int *nargs)
{
	FormField	f[RPCARGS_MAX];
	int			n = RPCARGS_MAX;
	int			i;

	*nargs = 0;
	switch (form_parse(q, len, buf, buflen, f, &n))
	{
		case FORM_OK:
			break;
		case FORM_DUPLICATE:
			return RPCARGS_DUPLICATE;
		case FORM_TOO_MANY:
			return RPCARGS_TOO_MANY;
		case FORM_MALFORMED:
			return RPCARGS_MALFORMED;
	}
	for (i = 0; i < n; i++)
	{
		if (strlen(f[i].name) > RPCARGS_NAME_MAX)
			return RPCARGS_BAD_NAME;
		args[i].name = f[i].name;
		args[i].kind = RPCV_TEXT;
		args[i].text = f[i].value;
		args[i].json = NULL;
		args[i].json_len = 0;
	}
	*nargs = n;
	return RPCARGS_OK;
}

/*
 * Every decoded text is written into buf at the offset of its JSON text
 * (as form_parse does): a name or string is shorter than its quoted text,
 * and a number's terminator lands on the delimiter after it, where no
 * other text starts.
 */
RpcArgsStatus
rpcargs_from_json(const char *body, size_t len, char *buf, size_t buflen,
				  RpcArg *args, int *nargs)
{
	const char *end = body + len;
	const char *p;
	int			n = 0;
	RpcArgsStatus st;

	*nargs = 0;
	if (buflen < len + 1)
		return RPCARGS_MALFORMED;
	p = json_ws(body, end);
	if (p == end)
		return RPCARGS_OK;
	if (*p != '{')
	{
		/* a JSON value of another kind, or no JSON at all? */
		if (json_skip(&p, end, RPCARGS_DEPTH_MAX) == RPCARGS_OK &&
			json_ws(p, end) == end)
			return RPCARGS_NOT_OBJECT;
		return RPCARGS_MALFORMED;
	}
	p = json_ws(p + 1, end);
	if (p < end && *p == '}')
		p++;
	else
	{
		for (;;)
		{
			RpcArg	   *a = &args[n];
			RpcOut		o;
			char	   *name;

			if (p == end || *p != '"')
				return RPCARGS_MALFORMED;
			name = buf + (p - body);
			o = (RpcOut) {name, buflen - (size_t) (p - body) - 1, 0};
			if ((st = json_string(&p, end, &o, false)) != RPCARGS_OK)
				return st;
			name[o.len] = '\0';
			p = json_ws(p, end);
			if (p == end || *p != ':')
				return RPCARGS_MALFORMED;
			p = json_ws(p + 1, end);
			if (o.len == 0 || o.len > RPCARGS_NAME_MAX)
				return RPCARGS_BAD_NAME;
			if (rpcargs_seen(args, n, name))
				return RPCARGS_DUPLICATE;
			if (n == RPCARGS_MAX)
				return RPCARGS_TOO_MANY;
			if (p == end)
				return RPCARGS_MALFORMED;

			a->name = name;
			a->json = p;
			a->text = NULL;
			if (*p == '"')
			{
				char	   *v = buf + (p - body);

				o = (RpcOut) {v, buflen - (size_t) (p - body) - 1, 0};
				if ((st = json_string(&p, end, &o, false)) != RPCARGS_OK)
					return st;
				v[o.len] = '\0';
				a->kind = RPCV_STRING;
				a->text = v;
			}
			else if (*p == '{' || *p == '[')
			{
				a->kind = *p == '{' ? RPCV_OBJECT : RPCV_ARRAY;
				if ((st = json_skip(&p, end, RPCARGS_DEPTH_MAX)) != RPCARGS_OK)
					return st;
			}
			else if (json_literal(&p, end, "true"))
			{
				a->kind = RPCV_BOOL;
				a->text = "true";
			}
			else if (json_literal(&p, end, "false"))
			{
				a->kind = RPCV_BOOL;
				a->text = "false";
			}
			else if (json_literal(&p, end, "null"))
				a->kind = RPCV_NULL;
			else
			{
				const char *start = p;
				char	   *v = buf + (p - body);

				if (!json_number(&p, end))
					return RPCARGS_MALFORMED;
				memcpy(v, start, (size_t) (p - start));
				v[p - start] = '\0';
				a->kind = RPCV_NUMBER;
				a->text = v;
			}
			a->json_len = (size_t) (p - a->json);
			*nargs = ++n;

			p = json_ws(p, end);
			if (p < end && *p == ',')
			{
				p = json_ws(p + 1, end);
				continue;
			}
			if (p < end && *p == '}')
			{
				p++;
				break;
			}
			return RPCARGS_MALFORMED;
		}
	}
	if (json_ws(p, end) != end)
		return RPCARGS_MALFORMED;
	return RPCARGS_OK;
}

/* --- values as SQL text -------------------------------------------------------- */

/*
 * The JSON array at *pp as an SQL array literal: {"a","b",NULL,{...}}.
 * Every element is double-quoted (so no text can end the element early);
 * nested arrays are dimensions, except in json_elems mode, where each
 * element is one JSON value whatever it is. False for what the array type
 * cannot take.
 */
static bool
rpcargs_array(const char **pp, const char *end, bool json_elems, int dims,
			  RpcOut *o)
{
	const char *p = json_ws(*pp, end);

	if (p == end || *p != '[' || dims > RPCARGS_ARRAY_DIMS)
		return false;
	out_byte(o, '{');
	p = json_ws(p + 1, end);
	if (p < end && *p == ']')
		p++;
	else
	{
		for (;;)
		{
			const char *start;

			p = json_ws(p, end);
			if (p == end)
				return false;
			start = p;
			if (json_literal(&p, end, "null"))
				out_put(o, "NULL", 4);
			else if (json_elems)
			{
				if (json_skip(&p, end, RPCARGS_DEPTH_MAX) != RPCARGS_OK)
					return false;
				out_byte(o, '"');
				out_quoted_span(o, start, (size_t) (p - start));
				out_byte(o, '"');
			}
			else if (*p == '[')
			{
				if (!rpcargs_array(&p, end, false, dims + 1, o))
					return false;
			}
			else if (*p == '"')
			{
				out_byte(o, '"');
				if (json_string(&p, end, o, true) != RPCARGS_OK)
					return false;
				out_byte(o, '"');
			}
			else if (json_literal(&p, end, "true") || json_literal(&p, end, "false") ||
					 json_number(&p, end))
			{
				out_byte(o, '"');
				out_put(o, start, (size_t) (p - start));
				out_byte(o, '"');
			}
			else
				return false;	/* an object in an array of scalars */
			p = json_ws(p, end);
			if (p < end && *p == ',')
			{
				out_byte(o, ',');
				p++;
				continue;
			}
			if (p < end && *p == ']')
			{
				p++;
				break;
			}
			return false;
		}
	}
	out_byte(o, '}');
	*pp = p;
	return true;
}

long
rpcargs_value_text(const RpcArg *arg, RpcArgType type, char *out,
				   size_t outlen)
{
	RpcOut		o = {out, outlen > 0 ? outlen - 1 : 0, 0};

	if (outlen == 0)
		o.buf = NULL;
	switch (arg->kind)
	{
		case RPCV_NULL:
			return -1;
		case RPCV_TEXT:
		case RPCV_NUMBER:
		case RPCV_BOOL:
			out_put(&o, arg->text, strlen(arg->text));
			break;
		case RPCV_STRING:
			/* for json, the value is the JSON string itself, quotes and all */
			if (type == RPCT_JSON)
				out_put(&o, arg->json, arg->json_len);
			else
				out_put(&o, arg->text, strlen(arg->text));
			break;
		case RPCV_OBJECT:
			if (type != RPCT_JSON)
				return -1;
			out_put(&o, arg->json, arg->json_len);
			break;
		case RPCV_ARRAY:
			if (type == RPCT_JSON)
				out_put(&o, arg->json, arg->json_len);
			else if (type == RPCT_SCALAR)
				return -1;
			else
			{
				const char *p = arg->json;

				if (!rpcargs_array(&p, arg->json + arg->json_len,
								   type == RPCT_JSON_ARRAY, 1, &o))
					return -1;
			}
			break;
	}
	if (o.buf != NULL && o.len <= o.cap)
		o.buf[o.len] = '\0';
	return (long) o.len;
}

long
rpcargs_quote_ident(const char *name, char *out, size_t outlen)
{
	RpcOut		o = {out, outlen > 0 ? outlen - 1 : 0, 0};

	if (outlen == 0)
		o.buf = NULL;
	out_byte(&o, '"');
	for (; *name != '\0'; name++)
	{
		if (*name == '"')
			out_byte(&o, '"');
		out_byte(&o, *name);
	}
	out_byte(&o, '"');
	if (o.buf != NULL && o.len <= o.cap)
		o.buf[o.len] = '\0';
	return (long) o.len;
}

const char *
rpcargs_strerror(RpcArgsStatus status)
{
	switch (status)
	{
		case RPCARGS_OK:
			return "ok";
		case RPCARGS_MALFORMED:
			return "the arguments are not a well-formed JSON object or query string of UTF-8 text";
		case RPCARGS_NOT_OBJECT:
			return "the body must be a JSON object of named arguments";
		case RPCARGS_DUPLICATE:
			return "an argument is given twice";
		case RPCARGS_TOO_MANY:
			return "too many arguments (at most 100)";
		case RPCARGS_BAD_NAME:
			return "an argument name is empty or longer than 63 bytes";
		case RPCARGS_TOO_DEEP:
			return "a value is nested too deeply";
		case RPCARGS_TYPE_MISMATCH:
			return "a value does not fit its argument's type";
	}
	return "unknown error";
}
