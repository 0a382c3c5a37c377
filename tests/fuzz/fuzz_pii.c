/*
 * fuzz_pii.c
 *		libFuzzer target for core/pii: scanning and masking arbitrary bytes.
 *
 * Properties, for every input:
 *   - the scan never reads or writes out of bounds (ASan) and its findings
 *     are in text order, inside the text, non-empty, never overlapping and
 *     only of the types asked for; pii_scan (counting with no array, then
 *     filling one) and the scanner iterator agree. This holds for every
 *     type and for a type mask drawn from the input's first two bytes;
 *   - for the styles full, partial and hash (every type), and for a mixed
 *     configuration drawn from the input's first bytes: the length asked
 *     for with a NULL buffer is never more than pii_mask_len_max(size);
 *     masking into exactly that many bytes plus the terminator succeeds
 *     with that length and terminates the output; one byte less gives
 *     PII_ERR_SPACE and writes nothing past the buffer (ASan);
 *   - the masked text holds no finding of the types that were masked:
 *     masking leaves nothing behind and creates nothing new, so masking
 *     is idempotent;
 *   - valid UTF-8 masks to valid UTF-8;
 *   - the hash style is deterministic (same input, same key: same output).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"
#include "utf8.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_key[] = "fuzz-key-0123456789abcdef";

static uint32_t
config_types(const pii_mask_config *cfg)
{
	uint32_t	types = 0;
	int			t;

	for (t = 0; t < PII_TYPE_COUNT; t++)
		if (cfg->style[t] != PII_STYLE_OFF)
			types |= PII_BIT(t);
	return types;
}

static void
check_scan(const char *text, size_t size, uint32_t types)
{
	pii_scanner s;
	pii_finding f;
	pii_finding *arr;
	size_t		count = 0;
	size_t		n = 0;
	size_t		last_end = 0;

	if (pii_scan(text, size, types, NULL, 0, &count) !=
		(count > 0 ? PII_ERR_SPACE : PII_OK))
		abort();
	arr = malloc(sizeof(pii_finding) * (count ? count : 1));
	if (!arr || pii_scan(text, size, types, arr, count, &n) != PII_OK ||
		n != count)
		abort();
	pii_scanner_init(&s, text, size, types);
	n = 0;
	while (pii_scanner_next(&s, &f))
	{
		if (n >= count || f.type != arr[n].type ||
			f.offset != arr[n].offset || f.length != arr[n].length)
			abort();
		if (f.length == 0 || f.offset < last_end || f.offset > size ||
			f.length > size - f.offset || !(types & PII_BIT(f.type)))
			abort();
		last_end = f.offset + f.length;
		n++;
	}
	if (n != count)
		abort();
	free(arr);
}

static void
check_mask(const char *text, size_t size, const pii_mask_config *cfg,
		   bool utf8)
{
	size_t		need = 0;
	size_t		outlen = 0;
	size_t		count = 0;
	char	   *out;
	pii_status	st;

	st = pii_mask(text, size, cfg, NULL, 0, &need);
	if (st != PII_ERR_SPACE || need > pii_mask_len_max(size))
		abort();
	out = malloc(need + 1);
	if (!out)
		abort();
	if (pii_mask(text, size, cfg, out, need + 1, &outlen) != PII_OK ||
		outlen != need || out[need] != '\0')
		abort();

	/* nothing of the masked types is left in the masked text */
	if (pii_scan(out, outlen, config_types(cfg), NULL, 0, &count) != PII_OK ||
		count != 0)
		abort();
	if (utf8 && !utf8_valid((const unsigned char *) out, outlen))
		abort();

	/* one byte short: refused, nothing written past the buffer */
	if (need > 0)
	{
		char	   *small = malloc(need);
		size_t		again = 0;

		if (!small)
			abort();
		if (pii_mask(text, size, cfg, small, need, &again) != PII_ERR_SPACE ||
			again != need)
			abort();
		free(small);
	}

	/* the hash style is deterministic */
	if (cfg->hmac_key != NULL)
	{
		char	   *again = malloc(need + 1);
		size_t		alen = 0;

		if (!again ||
			pii_mask(text, size, cfg, again, need + 1, &alen) != PII_OK ||
			alen != outlen || memcmp(again, out, outlen) != 0)
			abort();
		free(again);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	bool		utf8 = utf8_valid(data, size);
	pii_mask_config cfg;
	int			style;
	int			t;

	check_scan(text, size, PII_ALL);
	if (size >= 2)
		check_scan(text, size, ((uint32_t) data[0] << 8 | data[1]) & PII_ALL);

	for (style = PII_STYLE_FULL; style <= PII_STYLE_HASH; style++)
	{
		pii_mask_config_init(&cfg, (pii_style) style);
		cfg.hmac_key = fuzz_key;
		cfg.hmac_key_len = sizeof(fuzz_key) - 1;
		check_mask(text, size, &cfg, utf8);
	}

	/* a mixed configuration: two bits of style per type from the input */
	if (size >= 3)
	{
		uint32_t	bits = (uint32_t) data[size - 1] | (uint32_t) data[size - 2] << 8 |
			(uint32_t) data[size - 3] << 16;

		pii_mask_config_init(&cfg, PII_STYLE_OFF);
		cfg.hmac_key = fuzz_key;
		cfg.hmac_key_len = sizeof(fuzz_key) - 1;
		for (t = 0; t < PII_TYPE_COUNT; t++)
			cfg.style[t] = (pii_style) ((bits >> (2 * t)) & 3);
		check_mask(text, size, &cfg, utf8);
	}
	return 0;
}
