/*
 * fuzz_base32.c
 *		libFuzzer target for core/base32.
 *
 * Properties: decoding never reads or writes out of bounds; whatever it
 * accepts re-encodes to the input's canonical form (upper case, spaces and
 * padding removed), so the lenient decoder still gives every secret exactly
 * one meaning; any bytes encode and decode back to themselves, in upper
 * case, lower case and padded form alike.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base32.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		dmax = base32_decoded_max(size);
	size_t		emax = base32_encoded_len(size) + 1;
	unsigned char *dec = malloc(dmax ? dmax : 1);
	char	   *canon = malloc(size + 1);
	char	   *enc = malloc(emax + 8);
	unsigned char *back = malloc(size ? size : 1);
	size_t		dlen;
	size_t		elen;
	size_t		blen;
	size_t		clen = 0;
	size_t		i;

	if (!dec || !canon || !enc || !back)
		abort();

	/* accepted input re-encodes to its canonical form */
	if (base32_decode((const char *) data, size, dec, dmax, &dlen) ==
		BASE32_OK)
	{
		char	   *re = malloc(base32_encoded_len(dlen) + 1);

		for (i = 0; i < size; i++)
			if (data[i] != ' ' && data[i] != '=')
				canon[clen++] = (char) toupper(data[i]);
		if (!re ||
			base32_encode(dec, dlen, re, base32_encoded_len(dlen) + 1,
						  &elen) != BASE32_OK ||
			elen != clen || memcmp(re, canon, clen) != 0)
			abort();
		free(re);
	}

	/* any bytes survive encode then decode, in every accepted spelling */
	if (base32_encode(data, size, enc, emax, &elen) != BASE32_OK ||
		elen != emax - 1)
		abort();
	if (base32_decode(enc, elen, back, size, &blen) != BASE32_OK ||
		blen != size || memcmp(back, data, size) != 0)
		abort();
	for (i = 0; i < elen; i++)
		enc[i] = (char) tolower((unsigned char) enc[i]);
	while (elen % 8 != 0)
		enc[elen++] = '=';
	if (base32_decode(enc, elen, back, size, &blen) != BASE32_OK ||
		blen != size || memcmp(back, data, size) != 0)
		abort();

	free(dec);
	free(canon);
	free(enc);
	free(back);
	return 0;
}
