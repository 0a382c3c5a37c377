/*
 * fuzz_form.c
 *		libFuzzer target for core/form.
 *
 * Properties: parsing never reads past the input or writes past the
 * len + 1 buffer; every accepted field has a non-empty, NUL-free name;
 * no name is accepted twice; form_get finds each accepted field.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS 16

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = malloc(size ? size : 1);
	char	   *buf = malloc(size + 1);
	FormField	f[FIELDS];
	int			n = FIELDS;
	int			i;
	int			j;

	if (in == NULL || buf == NULL)
		abort();
	memcpy(in, data, size);		/* exactly size bytes: ASan sees overreads */
	if (form_parse(in, size, buf, size + 1, f, &n) == FORM_OK)
	{
		for (i = 0; i < n; i++)
		{
			if (f[i].name[0] == '\0' || form_get(f, n, f[i].name) != f[i].value)
				abort();
			for (j = 0; j < i; j++)
				if (strcmp(f[i].name, f[j].name) == 0)
					abort();
		}
	}
	free(in);
	free(buf);
	return 0;
}
