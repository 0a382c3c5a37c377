/*
 * route.h
 *		The route table's patterns: which permission and resource a request
 *		(method, path) needs, for forward authorization.
 *
 * A pattern is an absolute path of segments, each literal or a placeholder
 * "{name}" that matches one whole segment: "/documents/{id}/versions/{v}".
 * A resource template names the resource in warden's grammar with the same
 * placeholders: "document:{id}". Matching is strict, because a request
 * that matches no route is denied:
 *
 *	- the path is compared segment by segment, without its query string;
 *	- paths with empty, "." or ".." segments, or with percent-encoded "/",
 *	  "\", "." or NUL, never match (no traversal, no second spelling);
 *	- a captured value is percent-decoded and must then consist of letters,
 *	  digits and "-._~" only, so it can never add a ":" level or a "*"
 *	  wildcard to the resource it is put into.
 *
 * When several routes match, the one with more literal segments wins, then
 * the longer pattern (route_rank).
 */
#ifndef WARDEN_ROUTE_H
#define WARDEN_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_VARS 8
#define ROUTE_NAME_MAX 32
#define ROUTE_VALUE_MAX 128
#define ROUTE_PATTERN_MAX 512

typedef struct RouteVars
{
	int			n;
	char		name[ROUTE_MAX_VARS][ROUTE_NAME_MAX + 1];
	char		value[ROUTE_MAX_VARS][ROUTE_VALUE_MAX + 1];
} RouteVars;

/*
 * Checks a pattern and, when not NULL, a resource template against it
 * (every placeholder of the template must be captured by the pattern).
 * False with a message in err.
 */
extern bool route_check(const char *pattern, const char *resource,
						char *err, size_t errlen);

/* Does path[0..len) (a query string is ignored) match the pattern? */
extern bool route_match(const char *pattern, const char *path, size_t len,
						RouteVars *vars);

/* The resource for a match: the template with its placeholders filled in. */
extern bool route_expand(const char *resource, const RouteVars *vars,
						 char *out, size_t outlen);

/* Precedence among matching routes: higher wins. */
extern int	route_rank(const char *pattern);

#endif							/* WARDEN_ROUTE_H */
