/*
 * fuzz_cookie.c
 *		libFuzzer target for core/cookie: the input is a Cookie header.
 *
 * Properties: no read past the header or write past the output; a value
 * found is non-empty, fits, and occurs in the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *header = malloc(size + 1);
	char		out[16];

	if (header == NULL)
		abort();
	memcpy(header, data, size);
	header[size] = '\0';
	if (cookie_get(header, "at", out, sizeof(out)) &&
		(out[0] == '\0' || strlen(out) >= sizeof(out) || strstr(header, out) == NULL))
		abort();
	free(header);
	return 0;
}
