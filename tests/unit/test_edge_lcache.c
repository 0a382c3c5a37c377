/*
 * test_edge_lcache.c
 *		edge/lcache: values copied in and out, generations, expiry, the
 *		entry bound, replacement, and many threads at once (under ASan and
 *		UBSan, like every unit test).
 */
#include "unit.h"

#include <pthread.h>
#include <stdio.h>

#include "lcache.h"

static LCache *shared;

static void *
hammer(void *arg)
{
	int			id = *(int *) arg;
	char		key[32];
	char		out[32];
	int			i;

	for (i = 0; i < 20000; i++)
	{
		int			n = snprintf(key, sizeof(key), "k%d", (i * 7 + id) % 500);

		if (i % 3 == 0)
			lcache_put(shared, key, (size_t) n, 1, 0, 1000, key, (size_t) n);
		else if (lcache_get(shared, key, (size_t) n, 1, 0, out, sizeof(out)) >= 0 &&
				 memcmp(out, key, (size_t) n) != 0)
			return (void *) 1;
	}
	return NULL;
}

int
main(void)
{
	LCache	   *c = lcache_new(64);
	char		out[16];
	uint64_t	hits;
	uint64_t	misses;
	pthread_t	threads[4];
	int			ids[4];
	int			i;
	void	   *bad;
	int			failed = 0;

	UNIT_CHECK(c != NULL, "a cache");
	UNIT_CHECK(lcache_get(c, "a", 1, 1, 0, out, sizeof(out)) == -1, "empty: a miss");
	UNIT_CHECK(lcache_put(c, "a", 1, 1, 0, 100, "value", 5), "put");
	UNIT_CHECK(lcache_get(c, "a", 1, 1, 50, out, sizeof(out)) == 5 &&
			   memcmp(out, "value", 5) == 0, "the value comes back");
	UNIT_CHECK(lcache_get(c, "a", 1, 1, 100, out, sizeof(out)) == -1, "expired at its time");
	lcache_put(c, "a", 1, 1, 0, 100, "v1", 2);
	lcache_put(c, "a", 1, 1, 0, 100, "v2", 2);
	UNIT_CHECK(lcache_count(c) == 1, "a put replaces");
	UNIT_CHECK(lcache_get(c, "a", 1, 1, 0, out, sizeof(out)) == 2 && out[1] == '2',
			   "with the newer value");
	UNIT_CHECK(lcache_get(c, "a", 1, 2, 0, out, sizeof(out)) == -1,
			   "another generation: a miss");
	UNIT_CHECK(lcache_count(c) == 0, "and the stale entry is gone");
	lcache_put(c, "big", 3, 1, 0, 100, "0123456789abcdefXYZ", 19);
	UNIT_CHECK(lcache_get(c, "big", 3, 1, 0, out, sizeof(out)) == -1,
			   "a value larger than the buffer is not copied");
	for (i = 0; i < 1000; i++)
	{
		char		key[16];
		int			n = snprintf(key, sizeof(key), "key%d", i);

		lcache_put(c, key, (size_t) n, 1, 0, 100, "x", 1);
	}
	UNIT_CHECK(lcache_count(c) <= 64, "bounded: %zu entries", lcache_count(c));
	UNIT_CHECK(lcache_get(c, "key999", 6, 1, 0, out, sizeof(out)) == 1,
			   "the newest entry stays");
	UNIT_CHECK(lcache_get(c, "key0", 4, 1, 0, out, sizeof(out)) == -1,
			   "the oldest made room");
	lcache_put(c, "old", 3, 1, 0, 10, "x", 1);
	lcache_clear(c);
	UNIT_CHECK(lcache_count(c) == 0, "clear");
	lcache_stats(c, &hits, &misses);
	UNIT_CHECK(hits == 3 && misses >= 5, "hits %llu misses %llu",
			   (unsigned long long) hits, (unsigned long long) misses);
	lcache_free(c);

	shared = lcache_new(256);
	for (i = 0; i < 4; i++)
	{
		ids[i] = i;
		pthread_create(&threads[i], NULL, hammer, &ids[i]);
	}
	for (i = 0; i < 4; i++)
	{
		pthread_join(threads[i], &bad);
		failed += bad != NULL;
	}
	UNIT_CHECK(failed == 0, "four threads always read what was put");
	UNIT_CHECK(lcache_count(shared) <= 256 + 32, "still bounded");
	lcache_free(shared);
	return UNIT_MAIN_END();
}
