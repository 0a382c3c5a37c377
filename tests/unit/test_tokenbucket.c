/*
 * test_tokenbucket.c
 *		Table-driven tests of core/tokenbucket.c: the limit settings' text,
 *		the bucket arithmetic (bursts, refill, Retry-After figures, several
 *		buckets all or nothing) and the fixed-size table with its eviction.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tokenbucket.h"

#define SEC 1000000ULL

/* --- the text ---------------------------------------------------------------- */

typedef struct spec_case
{
	const char *text;
	bool		ok;
	bool		enabled;
	uint32_t	count;
	uint64_t	period_us;
	uint32_t	burst;
	const char *canonical;
} spec_case;

static const spec_case spec_cases[] = {
	{"off", true, false, 0, 0, 0, "off"},
	{" off ", true, false, 0, 0, 0, "off"},
	{"100/s,burst=200", true, true, 100, SEC, 200, "100/s,burst=200"},
	{"5/min,burst=10", true, true, 5, 60 * SEC, 10, "5/min,burst=10"},
	{"5/min", true, true, 5, 60 * SEC, 5, "5/min,burst=5"},
	{"1/h", true, true, 1, 3600 * SEC, 1, "1/h,burst=1"},
	{"1000/d, burst = 50", true, true, 1000, 86400 * SEC, 50, "1000/d,burst=50"},
	{" 20 / s ", true, true, 20, SEC, 20, "20/s,burst=20"},
	{"1000000/s,burst=1000000", true, true, 1000000, SEC, 1000000, "1000000/s,burst=1000000"},
	{"", false, false, 0, 0, 0, NULL},
	{"on", false, false, 0, 0, 0, NULL},
	{"offline", false, false, 0, 0, 0, NULL},
	{"0/s", false, false, 0, 0, 0, NULL},
	{"1000001/s", false, false, 0, 0, 0, NULL},
	{"10/s,burst=0", false, false, 0, 0, 0, NULL},
	{"10/s,burst=1000001", false, false, 0, 0, 0, NULL},
	{"10/sec", false, false, 0, 0, 0, NULL},
	{"10/m", false, false, 0, 0, 0, NULL},
	{"10/ms", false, false, 0, 0, 0, NULL},
	{"10", false, false, 0, 0, 0, NULL},
	{"10/", false, false, 0, 0, 0, NULL},
	{"/s", false, false, 0, 0, 0, NULL},
	{"-5/s", false, false, 0, 0, 0, NULL},
	{"+5/s", false, false, 0, 0, 0, NULL},
	{"5.5/s", false, false, 0, 0, 0, NULL},
	{"10/s,", false, false, 0, 0, 0, NULL},
	{"10/s,burst", false, false, 0, 0, 0, NULL},
	{"10/s,burst=", false, false, 0, 0, 0, NULL},
	{"10/s,bursts=3", false, false, 0, 0, 0, NULL},
	{"10/s,burst=3,burst=4", false, false, 0, 0, 0, NULL},
	{"10/s burst=3", false, false, 0, 0, 0, NULL},
	{"99999999999999999999/s", false, false, 0, 0, 0, NULL},
	/* a bucket that would take more than a year to fill */
	{"1/d,burst=366", false, false, 0, 0, 0, NULL},
	{"1/d,burst=365", true, true, 1, 86400 * SEC, 365, "1/d,burst=365"},
};

static void
test_specs(void)
{
	size_t		i;

	for (i = 0; i < sizeof(spec_cases) / sizeof(spec_cases[0]); i++)
	{
		const spec_case *c = &spec_cases[i];
		TokenBucketSpec s;
		TokenBucketSpec again;
		char		err[160] = "";
		char		text[TOKENBUCKET_TEXT_MAX];
		bool		ok;

		memset(&s, 0x5a, sizeof(s));
		ok = tokenbucket_parse(c->text, &s, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "spec \"%s\": ok=%d, want %d (%s)", c->text, ok, c->ok, err);
		if (!ok)
		{
			UNIT_CHECK(err[0] != '\0', "spec \"%s\": no message", c->text);
			continue;
		}
		if (!c->ok)
			continue;
		UNIT_CHECK(s.enabled == c->enabled && (!c->enabled ||
											   (s.count == c->count && s.period_us == c->period_us &&
												s.burst == c->burst)),
				   "spec \"%s\": got %d %u per %llu burst %u", c->text, s.enabled, s.count,
				   (unsigned long long) s.period_us, s.burst);
		if (s.enabled)
			UNIT_CHECK(s.interval_us == s.period_us / s.count && s.interval_us >= 1,
					   "spec \"%s\": interval %llu", c->text, (unsigned long long) s.interval_us);
		tokenbucket_format(&s, text);
		UNIT_CHECK(strcmp(text, c->canonical) == 0, "spec \"%s\": formatted %s, want %s",
				   c->text, text, c->canonical);
		UNIT_CHECK(tokenbucket_parse(text, &again, NULL, 0) && again.enabled == s.enabled &&
				   again.count == s.count && again.burst == s.burst &&
				   again.period_us == s.period_us && again.interval_us == s.interval_us,
				   "spec \"%s\": its text does not read back", c->text);
	}
}

/* --- the arithmetic ------------------------------------------------------------ */

static TokenBucketSpec
spec(const char *text)
{
	TokenBucketSpec s;

	if (!tokenbucket_parse(text, &s, NULL, 0))
		memset(&s, 0, sizeof(s));
	return s;
}

static void
test_take(void)
{
	TokenBucketSpec s = spec("5/min,burst=3");	/* a token every 12 s */
	const TokenBucketSpec *specs[1] = {&s};
	TokenBucketVerdict v;
	uint64_t	tat = 0;
	uint64_t	now = 1000 * SEC;
	int			i;

	for (i = 0; i < 3; i++)
	{
		tokenbucket_take(&tat, specs, 1, now, &v);
		UNIT_CHECK(v.allowed, "burst: request %d refused", i + 1);
		UNIT_CHECK(v.remaining == (uint32_t) (2 - i), "burst: request %d leaves %u, want %d",
				   i + 1, v.remaining, 2 - i);
		UNIT_CHECK(v.limit == 3 && v.which == 0, "burst: limit %u which %d", v.limit, v.which);
		UNIT_CHECK(v.reset_us == (uint64_t) (i + 1) * 12 * SEC,
				   "burst: request %d full again in %llu", i + 1, (unsigned long long) v.reset_us);
	}
	tokenbucket_take(&tat, specs, 1, now, &v);
	UNIT_CHECK(!v.allowed, "the 4th request at once is refused");
	UNIT_CHECK(v.retry_us == 12 * SEC, "retry in one interval: %llu", (unsigned long long) v.retry_us);
	UNIT_CHECK(v.remaining == 0 && v.limit == 3 && v.which == 0, "refused: figures");
	UNIT_CHECK(tat == now + 36 * SEC, "a refusal takes nothing: tat %llu",
			   (unsigned long long) (tat - now));

	tokenbucket_take(&tat, specs, 1, now + 5 * SEC, &v);
	UNIT_CHECK(!v.allowed && v.retry_us == 7 * SEC, "5 s later: retry in 7 s (%llu)",
			   (unsigned long long) v.retry_us);
	tokenbucket_take(&tat, specs, 1, now + 12 * SEC, &v);
	UNIT_CHECK(v.allowed && v.remaining == 0, "one interval later: one token");
	tokenbucket_take(&tat, specs, 1, now + 12 * SEC, &v);
	UNIT_CHECK(!v.allowed, "and only one");

	/* long idle: full again, never more than the burst */
	tokenbucket_take(&tat, specs, 1, now + 3600 * SEC, &v);
	UNIT_CHECK(v.allowed && v.remaining == 2, "after an hour: burst again (%u left)", v.remaining);
}

static void
test_take_many(void)
{
	TokenBucketSpec ip = spec("10/min,burst=10");
	TokenBucketSpec user = spec("5/min,burst=2");
	TokenBucketSpec off = spec("off");
	const TokenBucketSpec *specs[3] = {&ip, &user, &off};
	uint64_t	tat[3] = {0, 0, 0};
	TokenBucketVerdict v;
	uint64_t	now = 50 * SEC;

	tokenbucket_take(tat, specs, 3, now, &v);
	UNIT_CHECK(v.allowed && v.which == 1 && v.remaining == 1 && v.limit == 2,
			   "two buckets: the tighter reported (which %d, left %u)", v.which, v.remaining);
	tokenbucket_take(tat, specs, 3, now, &v);
	UNIT_CHECK(v.allowed && v.which == 1 && v.remaining == 0, "second: user bucket empty");
	tokenbucket_take(tat, specs, 3, now, &v);
	UNIT_CHECK(!v.allowed && v.which == 1 && v.retry_us == 12 * SEC,
			   "third: refused by the user bucket (which %d, retry %llu)", v.which,
			   (unsigned long long) v.retry_us);
	UNIT_CHECK(tat[0] == now + 2 * 6 * SEC, "the refusal took nothing from the IP bucket");
	UNIT_CHECK(tat[2] == 0, "a bucket that is off is never touched");

	/* both refuse: the longer wait is the answer */
	{
		TokenBucketSpec a = spec("1/min,burst=1");
		TokenBucketSpec b = spec("1/h,burst=1");
		const TokenBucketSpec *ab[2] = {&a, &b};
		uint64_t	t2[2] = {0, 0};

		tokenbucket_take(t2, ab, 2, now, &v);
		tokenbucket_take(t2, ab, 2, now, &v);
		UNIT_CHECK(!v.allowed && v.which == 1 && v.retry_us == 3600 * SEC,
				   "both refuse: the hour wins (which %d)", v.which);
	}

	/* all off: allowed, about nothing */
	{
		const TokenBucketSpec *offs[1] = {&off};
		uint64_t	t1 = 0;

		tokenbucket_take(&t1, offs, 1, now, &v);
		UNIT_CHECK(v.allowed && v.which == -1, "all off: allowed, which %d", v.which);
	}
}

/* --- the table ----------------------------------------------------------------- */

static void
key_of(unsigned char key[TOKENBUCKET_KEY_LEN], unsigned set, unsigned id)
{
	memset(key, 0, TOKENBUCKET_KEY_LEN);
	/* the set is the first 8 bytes modulo the number of sets */
	key[7] = (unsigned char) set;
	key[8] = (unsigned char) (id >> 8);
	key[9] = (unsigned char) id;
}

static void
test_table(void)
{
	static TokenBucketSlot slots[4 * TOKENBUCKET_WAYS];
	TokenBucketTable t;
	TokenBucketSpec s = spec("1/min,burst=2");
	const TokenBucketSpec *specs[2] = {&s, &s};
	unsigned char keys[2][TOKENBUCKET_KEY_LEN];
	TokenBucketVerdict v;
	uint64_t	now = 10 * SEC;
	unsigned	id;

	memset(slots, 0, sizeof(slots));
	tokenbucket_table_init(&t, slots, sizeof(slots) / sizeof(slots[0]));

	key_of(keys[0], 1, 1);
	tokenbucket_table_take(&t, keys, specs, 1, now, &v);
	tokenbucket_table_take(&t, keys, specs, 1, now, &v);
	UNIT_CHECK(v.allowed && v.remaining == 0, "table: two tokens taken");
	tokenbucket_table_take(&t, keys, specs, 1, now, &v);
	UNIT_CHECK(!v.allowed, "table: the key is remembered");

	/* other keys in the same set: full buckets are replaced first */
	for (id = 2; id < 200; id++)
	{
		key_of(keys[1], 1, id);
		tokenbucket_table_take(&t, (const unsigned char (*)[TOKENBUCKET_KEY_LEN]) &keys[1],
							   specs, 1, now + 30 * SEC, &v);
		UNIT_CHECK(v.allowed, "table: key %u allowed", id);
	}
	key_of(keys[0], 1, 1);
	tokenbucket_table_take(&t, keys, specs, 1, now + 30 * SEC, &v);
	UNIT_CHECK(!v.allowed, "table: a flood of new keys does not evict a busy bucket");

	/* two keys of one request never share a slot, even in a crowded set */
	key_of(keys[0], 2, 1);
	key_of(keys[1], 2, 2);
	tokenbucket_table_take(&t, keys, specs, 2, now, &v);
	tokenbucket_table_take(&t, keys, specs, 2, now, &v);
	UNIT_CHECK(v.allowed && v.remaining == 0, "table: two keys, two buckets");
	tokenbucket_table_take(&t, keys, specs, 2, now, &v);
	UNIT_CHECK(!v.allowed, "table: both empty");
	key_of(keys[1], 2, 3);
	tokenbucket_table_take(&t, keys, specs, 2, now, &v);
	UNIT_CHECK(!v.allowed && v.which == 0, "table: the first key still refuses with a fresh second");
}

int
main(void)
{
	test_specs();
	test_take();
	test_take_many();
	test_table();
	return UNIT_MAIN_END();
}
