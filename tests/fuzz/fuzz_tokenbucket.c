/*
 * fuzz_tokenbucket.c
 *		libFuzzer target for core/tokenbucket: the input is a limit setting
 *		("100/s,burst=200"); when it parses, the bytes after it drive a
 *		short run of requests at moving times through a small table.
 *
 * Properties: nothing is read or written out of bounds; a parsed setting
 * has a count and burst in range, an interval of at least a microsecond
 * and a canonical text that parses back to the same setting; no run ever
 * allows more than burst requests plus what the elapsed time refills, and
 * a refusal always names a positive wait.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenbucket.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t		len = nul != NULL ? (size_t) (nul - data) : size;
	char	   *text = malloc(len + 1);
	char		canonical[TOKENBUCKET_TEXT_MAX];
	static TokenBucketSlot slots[2 * TOKENBUCKET_WAYS];
	TokenBucketTable table;
	TokenBucketSpec s;
	TokenBucketSpec again;
	TokenBucketVerdict v;
	const TokenBucketSpec *specs[2];
	unsigned char keys[2][TOKENBUCKET_KEY_LEN];
	uint64_t	now = 1000000;
	uint64_t	start = now;
	uint64_t	allowed = 0;
	size_t		i;

	if (text == NULL)
		abort();
	memcpy(text, data, len);
	text[len] = '\0';
	if (!tokenbucket_parse(text, &s, canonical, sizeof(canonical)))
	{
		free(text);
		return 0;
	}
	free(text);
	tokenbucket_format(&s, canonical);
	if (!tokenbucket_parse(canonical, &again, NULL, 0) || again.enabled != s.enabled)
		abort();
	if (!s.enabled)
		return 0;
	if (s.count < 1 || s.count > TOKENBUCKET_COUNT_MAX || s.burst < 1 ||
		s.burst > TOKENBUCKET_BURST_MAX || s.interval_us < 1 ||
		again.count != s.count || again.burst != s.burst ||
		again.interval_us != s.interval_us)
		abort();

	/* requests for one key (and sometimes a second), times from the rest */
	memset(slots, 0, sizeof(slots));
	tokenbucket_table_init(&table, slots, sizeof(slots) / sizeof(slots[0]));
	memset(keys, 0, sizeof(keys));
	keys[1][0] = 1;
	specs[0] = &s;
	specs[1] = &s;
	for (i = len + 1; i < size; i++)
	{
		int			n = (data[i] & 1) + 1;

		now += (uint64_t) (data[i] >> 1) * s.interval_us / 16;
		tokenbucket_table_take(&table, (const unsigned char (*)[TOKENBUCKET_KEY_LEN]) keys,
							   specs, n, now, &v);
		if (v.allowed)
			allowed++;
		else if (v.retry_us == 0 || v.retry_us > (uint64_t) s.burst * s.interval_us)
			abort();
		if (v.which < 0 || v.which >= n || v.limit != s.burst || v.remaining >= s.burst)
			abort();
		if (allowed > s.burst + (now - start) / s.interval_us)
			abort();
	}
	return 0;
}
