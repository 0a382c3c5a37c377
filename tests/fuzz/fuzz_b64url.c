/*
 * fuzz_b64url.c
 *		libFuzzer target for core/b64url.
 *
 * Properties: decoding never reads or writes out of bounds, and because the
 * decoder is strict, whatever it accepts re-encodes to exactly the input
 * (one encoding per byte string); any bytes encode and decode back to
 * themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		dmax = b64url_decoded_max(size);
	size_t		emax = b64url_encoded_len(size) + 1;
	unsigned char *dec = malloc(dmax ? dmax : 1);
	char	   *enc = malloc(emax);
	char	   *reenc = malloc(b64url_encoded_len(dmax) + 1);
	size_t		dlen;
	size_t		elen;

	if (!dec || !enc || !reenc)
		abort();

	if (b64url_decode((const char *) data, size, dec, dmax, &dlen) == B64URL_OK)
	{
		if (b64url_encode(dec, dlen, reenc, b64url_encoded_len(dmax) + 1,
						  &elen) != B64URL_OK ||
			elen != size || memcmp(reenc, data, size) != 0)
			abort();
	}

	if (b64url_encode(data, size, enc, emax, &elen) != B64URL_OK)
		abort();
	free(dec);
	dec = malloc(b64url_decoded_max(elen) + 1);
	if (!dec)
		abort();
	if (b64url_decode(enc, elen, dec, b64url_decoded_max(elen) + 1, &dlen) !=
		B64URL_OK || dlen != size || memcmp(dec, data, size) != 0)
		abort();

	free(dec);
	free(enc);
	free(reenc);
	return 0;
}
