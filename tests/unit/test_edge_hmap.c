/*
 * test_edge_hmap.c
 *		edge/hmap: put, replace, get, delete, delete_if and growth well past
 *		the first table size.
 */
#include "unit.h"

#include <stdint.h>
#include <stdio.h>

#include "hmap.h"

static bool
is_odd(const void *value, void *arg)
{
	(void) arg;
	return *(const int64_t *) value % 2 == 1;
}

int
main(void)
{
	HMap	   *m = hmap_new(sizeof(int64_t));
	int64_t		v;
	int64_t    *got;
	int			i;
	int			bad = 0;

	UNIT_CHECK(m != NULL, "a map");
	UNIT_CHECK(hmap_get(m, "a", 1) == NULL, "empty");
	v = 1;
	UNIT_CHECK(hmap_put(m, "a", 1, &v), "put");
	v = 2;
	hmap_put(m, "a", 1, &v);
	got = hmap_get(m, "a", 1);
	UNIT_CHECK(got != NULL && *got == 2 && hmap_count(m) == 1, "a put replaces");
	UNIT_CHECK(hmap_delete(m, "a", 1) && hmap_get(m, "a", 1) == NULL, "delete");
	UNIT_CHECK(!hmap_delete(m, "a", 1), "deleting twice finds nothing");
	for (i = 0; i < 10000; i++)
	{
		char		key[16];
		int			n = snprintf(key, sizeof(key), "k%d", i);

		v = i;
		hmap_put(m, key, (size_t) n, &v);
	}
	UNIT_CHECK(hmap_count(m) == 10000, "10,000 entries");
	for (i = 0; i < 10000; i++)
	{
		char		key[16];
		int			n = snprintf(key, sizeof(key), "k%d", i);

		got = hmap_get(m, key, (size_t) n);
		bad += got == NULL || *got != i;
	}
	UNIT_CHECK(bad == 0, "every one found after growing");
	UNIT_CHECK(hmap_delete_if(m, is_odd, NULL) == 5000 && hmap_count(m) == 5000,
			   "delete_if drops the odd half");
	UNIT_CHECK(hmap_get(m, "k3", 2) == NULL && hmap_get(m, "k4", 2) != NULL,
			   "the right half");
	hmap_free(m);
	return UNIT_MAIN_END();
}
