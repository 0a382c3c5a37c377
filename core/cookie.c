/*
 * cookie.c
 *		One cookie from a Cookie header.
 */
#include "cookie.h"

#include <string.h>

bool
cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t		nlen = strlen(name);
	const char *p = header;
	const char *found = NULL;
	size_t		flen = 0;

	while (*p != '\0')
	{
		const char *end;
		const char *eq;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t) (end - p));
		if (eq != NULL && (size_t) (eq - p) == nlen && memcmp(p, name, nlen) == 0)
		{
			if (found != NULL)
				return false;	/* twice: which one would the client mean? */
			found = eq + 1;
			flen = (size_t) (end - found);
			while (flen > 0 && (found[flen - 1] == ' ' || found[flen - 1] == '\t'))
				flen--;
		}
		p = end;
	}
	if (found == NULL)
		return false;
	if (flen >= 2 && found[0] == '"' && found[flen - 1] == '"')
	{
		found++;
		flen -= 2;
	}
	if (flen == 0 || flen >= outlen)
		return false;
	memcpy(out, found, flen);
	out[flen] = '\0';
	return true;
}
