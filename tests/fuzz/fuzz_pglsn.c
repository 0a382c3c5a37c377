/*
 * fuzz_pglsn.c
 *		libFuzzer target for core/pglsn: the input is a Warden-LSN header.
 *
 * Properties: no read past the input; an accepted LSN formats back to a
 * text that parses to the same value, and the input was at most as long
 * as two halves of eight digits and a slash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pglsn.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		text[PGLSN_TEXT_MAX];
	uint64_t	lsn;
	uint64_t	back;
	int			n;

	if (!pglsn_parse((const char *) data, size, &lsn))
		return 0;
	if (size > PGLSN_TEXT_MAX - 1 || memchr(data, '/', size) == NULL)
		abort();
	n = pglsn_format(lsn, text);
	if (n <= 0 || n >= PGLSN_TEXT_MAX || !pglsn_parse(text, (size_t) n, &back) || back != lsn)
		abort();
	return 0;
}
