/*
 * pglsn.c
 *		PostgreSQL WAL positions as text (see pglsn.h).
 */
#include "pglsn.h"

#include <stdio.h>

#include "hex.h"

/* One half: 1 to 8 hex digits from *p up to end or the stop byte. */
static bool
pglsn_half(const char **p, const char *end, uint32_t *out)
{
	uint32_t	v = 0;
	int			n = 0;
	int			d;

	while (*p < end && (d = hex_nibble((unsigned char) **p)) >= 0)
	{
		if (++n > 8)
			return false;
		v = v << 4 | (uint32_t) d;
		(*p)++;
	}
	*out = v;
	return n > 0;
}

bool
pglsn_parse(const char *text, size_t len, uint64_t *out)
{
	const char *p = text;
	const char *end = text + len;
	uint32_t	hi;
	uint32_t	lo;

	if (!pglsn_half(&p, end, &hi) || p == end || *p != '/')
		return false;
	p++;
	if (!pglsn_half(&p, end, &lo) || p != end)
		return false;
	*out = (uint64_t) hi << 32 | lo;
	return true;
}

int
pglsn_format(uint64_t lsn, char out[PGLSN_TEXT_MAX])
{
	return snprintf(out, PGLSN_TEXT_MAX, "%X/%X", (unsigned) (lsn >> 32),
					(unsigned) (lsn & 0xFFFFFFFFu));
}
