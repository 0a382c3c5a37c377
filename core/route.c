/*
 * route.c
 *		Route patterns of forward authorization: check, match, expand.
 */
#include "route.h"

#include <stdio.h>
#include <string.h>

#include "hex.h"

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Characters a literal segment may hold (RFC 3986 pchar, without '%'). */
static bool
is_literal_char(unsigned char c)
{
	return is_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@", c) != NULL);
}

static bool
is_name_char(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/*
 * The placeholder name of segment s[0..len) into name, when it is one
 * ("{name}"): 1; a literal: 0; malformed: -1.
 */
static int
placeholder(const char *s, size_t len, char *name)
{
	size_t		i;

	if (len == 0 || s[0] != '{')
		return 0;
	if (len < 3 || s[len - 1] != '}' || len - 2 > ROUTE_NAME_MAX)
		return -1;
	for (i = 1; i < len - 1; i++)
		if (!is_name_char((unsigned char) s[i], i == 1))
			return -1;
	memcpy(name, s + 1, len - 2);
	name[len - 2] = '\0';
	return 1;
}

/* Calls back for each segment of an absolute path; false stops. */
typedef bool (*segment_fn) (void *arg, int index, const char *seg, size_t len);

static int
for_segments(const char *path, size_t len, segment_fn fn, void *arg)
{
	size_t		pos = 1;
	int			n = 0;

	if (len == 0 || path[0] != '/')
		return -1;
	if (len == 1)
		return 0;				/* "/": no segments */
	for (;;)
	{
		const char *slash = memchr(path + pos, '/', len - pos);
		size_t		seglen = slash != NULL ? (size_t) (slash - (path + pos)) : len - pos;

		if (!fn(arg, n, path + pos, seglen))
			return -1;
		n++;
		if (slash == NULL)
			return n;
		pos += seglen + 1;
	}
}

/* --- check ------------------------------------------------------------------ */

typedef struct CheckState
{
	char	   *err;
	size_t		errlen;
	int			nvars;
	char		names[ROUTE_MAX_VARS][ROUTE_NAME_MAX + 1];
} CheckState;

static bool
check_segment(void *arg, int index, const char *seg, size_t len)
{
	CheckState *st = arg;
	char		name[ROUTE_NAME_MAX + 1];
	size_t		i;
	int			k;

	(void) index;
	if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
	{
		snprintf(st->err, st->errlen, "empty, \".\" and \"..\" segments are not allowed");
		return false;
	}
	switch (placeholder(seg, len, name))
	{
		case -1:
			snprintf(st->err, st->errlen,
					 "a placeholder is {name}: lower-case letters, digits and _, at most %d",
					 ROUTE_NAME_MAX);
			return false;
		case 1:
			for (k = 0; k < st->nvars; k++)
				if (strcmp(st->names[k], name) == 0)
				{
					snprintf(st->err, st->errlen, "placeholder {%s} appears twice", name);
					return false;
				}
			if (st->nvars == ROUTE_MAX_VARS)
			{
				snprintf(st->err, st->errlen, "at most %d placeholders", ROUTE_MAX_VARS);
				return false;
			}
			strcpy(st->names[st->nvars++], name);
			return true;
		default:
			for (i = 0; i < len; i++)
				if (!is_literal_char((unsigned char) seg[i]))
				{
					snprintf(st->err, st->errlen,
							 "a literal segment holds unreserved characters and !$&'()*+,;=:@ only");
					return false;
				}
			return true;
	}
}

bool
route_check(const char *pattern, const char *resource, char *err, size_t errlen)
{
	CheckState	st;
	const char *p;

	memset(&st, 0, sizeof(st));
	st.err = err;
	st.errlen = errlen;
	if (strlen(pattern) > ROUTE_PATTERN_MAX)
	{
		snprintf(err, errlen, "a pattern is at most %d bytes", ROUTE_PATTERN_MAX);
		return false;
	}
	if (pattern[0] != '/')
	{
		snprintf(err, errlen, "a pattern is an absolute path: it starts with /");
		return false;
	}
	if (for_segments(pattern, strlen(pattern), check_segment, &st) < 0)
		return false;
	if (resource == NULL)
		return true;
	if (resource[0] == '\0' || strlen(resource) > ROUTE_PATTERN_MAX)
	{
		snprintf(err, errlen, "a resource template is 1 to %d bytes", ROUTE_PATTERN_MAX);
		return false;
	}
	for (p = resource; *p != '\0'; p++)
	{
		const char *close;
		char		name[ROUTE_NAME_MAX + 1];
		int			k;
		bool		known = false;

		if (*p == '}')
		{
			snprintf(err, errlen, "an unmatched } in the resource template");
			return false;
		}
		if (*p != '{')
			continue;
		close = strchr(p, '}');
		if (close == NULL || placeholder(p, (size_t) (close - p + 1), name) != 1)
		{
			snprintf(err, errlen, "a malformed placeholder in the resource template");
			return false;
		}
		for (k = 0; k < st.nvars; k++)
			known = known || strcmp(st.names[k], name) == 0;
		if (!known)
		{
			snprintf(err, errlen, "the resource template uses {%s}, which the pattern does not capture",
					 name);
			return false;
		}
		p = close;
	}
	return true;
}

/* --- match ------------------------------------------------------------------ */

static size_t
count_dots(const char *s, size_t len)
{
	size_t		n = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		n += s[i] == '.';
	return n;
}

typedef struct MatchState
{
	const char *pattern;
	size_t		plen;
	size_t		ppos;			/* start of the next pattern segment */
	RouteVars  *vars;
} MatchState;

static bool
match_segment(void *arg, int index, const char *seg, size_t len)
{
	MatchState *st = arg;
	const char *pseg = st->pattern + st->ppos;
	const char *slash;
	size_t		plen;
	char		name[ROUTE_NAME_MAX + 1];
	char		value[ROUTE_VALUE_MAX + 1];
	int			vlen;
	int			i;

	(void) index;
	if (st->ppos >= st->plen)
		return false;			/* the path is longer */
	slash = memchr(pseg, '/', st->plen - st->ppos);
	plen = slash != NULL ? (size_t) (slash - pseg) : st->plen - st->ppos;
	st->ppos += plen + 1;

	if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.') ||
		memchr(seg, '\\', len) != NULL)
		return false;
	/*
	 * Escaped '/', '\\' and '.' are refused: decoded, the segment must still
	 * be one segment, and dots only as written. Literal segments compare
	 * raw, so an escaped spelling of a literal never matches it.
	 */
	if ((vlen = (int) hex_percent_decode(seg, len, value, ROUTE_VALUE_MAX, 0)) < 0 ||
		memchr(value, '/', (size_t) vlen) != NULL || memchr(value, '\\', (size_t) vlen) != NULL ||
		count_dots(value, (size_t) vlen) != count_dots(seg, len))
		return false;
	if (placeholder(pseg, plen, name) != 1)
		return plen == len && memcmp(pseg, seg, len) == 0;
	if (vlen == 0)
		return false;
	for (i = 0; i < vlen; i++)
		if (!is_unreserved((unsigned char) value[i]))
			return false;
	if (st->vars->n == ROUTE_MAX_VARS)
		return false;
	strcpy(st->vars->name[st->vars->n], name);
	strcpy(st->vars->value[st->vars->n], value);
	st->vars->n++;
	return true;
}

bool
route_match(const char *pattern, const char *path, size_t len, RouteVars *vars)
{
	MatchState	st;
	const char *q;
	int			n;

	vars->n = 0;
	q = memchr(path, '?', len);
	if (q != NULL)
		len = (size_t) (q - path);
	q = memchr(path, '#', len);
	if (q != NULL)
		len = (size_t) (q - path);
	if (memchr(path, '\0', len) != NULL)
		return false;
	st.pattern = pattern;
	st.plen = strlen(pattern);
	st.ppos = 1;
	st.vars = vars;
	if (st.plen == 1)
		return len == 1 && path[0] == '/';	/* the pattern "/" */
	n = for_segments(path, len, match_segment, &st);
	/* every pattern segment used: ppos ran one past the end */
	return n > 0 && st.ppos == st.plen + 1;
}

bool
route_expand(const char *resource, const RouteVars *vars, char *out, size_t outlen)
{
	size_t		o = 0;
	const char *p;

	for (p = resource; *p != '\0'; p++)
	{
		const char *add = p;
		size_t		addlen = 1;

		if (*p == '{')
		{
			const char *close = strchr(p, '}');
			int			k;

			if (close == NULL)
				return false;
			add = NULL;
			for (k = 0; k < vars->n && add == NULL; k++)
				if (strlen(vars->name[k]) == (size_t) (close - p - 1) &&
					memcmp(vars->name[k], p + 1, (size_t) (close - p - 1)) == 0)
				{
					add = vars->value[k];
					addlen = strlen(add);
				}
			if (add == NULL)
				return false;
			p = close;
		}
		if (o + addlen + 1 > outlen)
			return false;
		memcpy(out + o, add, addlen);
		o += addlen;
	}
	if (o + 1 > outlen)
		return false;
	out[o] = '\0';
	return true;
}

int
route_rank(const char *pattern)
{
	int			literals = 0;
	const char *p = pattern;

	while ((p = strchr(p, '/')) != NULL)
	{
		p++;
		if (*p != '{' && *p != '\0')
			literals++;
	}
	return literals * 1024 + (int) strlen(pattern);
}
