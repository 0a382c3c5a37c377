/*
 * fuzz_route.c
 *		libFuzzer target for core/route: the input is split at its first
 *		NUL into a pattern and a path.
 *
 * Properties: checks and matches never read or write out of bounds; a
 * match of a checked pattern captures only unreserved characters (no ':'
 * or '*' can reach a resource); expansion never overflows its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t		plen = nul != NULL ? (size_t) (nul - data) : size;
	char	   *pattern = malloc(plen + 1);
	size_t		rest = nul != NULL ? size - plen - 1 : 0;
	char	   *path = malloc(rest ? rest : 1);
	char		err[256];
	char		out[64];
	RouteVars	v;
	int			i;

	if (pattern == NULL || path == NULL)
		abort();
	memcpy(pattern, data, plen);
	pattern[plen] = '\0';
	memcpy(path, data + plen + (nul != NULL), rest);
	(void) route_check(pattern, "r:{id}", err, sizeof(err));
	if (route_check(pattern, NULL, err, sizeof(err)))
	{
		if (route_match(pattern, path, rest, &v))
		{
			for (i = 0; i < v.n; i++)
				if (strpbrk(v.value[i], ":*/%") != NULL || v.value[i][0] == '\0')
					abort();
			(void) route_expand("r:{id}", &v, out, sizeof(out));
		}
		(void) route_rank(pattern);
	}
	free(pattern);
	free(path);
	return 0;
}
