/*
 * hmap.c
 *		Growable chained hash map (see hmap.h). The table doubles when it
 *		holds more entries than buckets, so chains stay short.
 */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "siphash.h"

typedef struct HEntry
{
	struct HEntry *next;
	uint64_t	hash;
	size_t		keylen;
	unsigned char data[];		/* value (value_size bytes, 8-aligned), then key */
} HEntry;

struct HMap
{
	unsigned char key[SIPHASH_KEY_LEN];
	size_t		value_size;
	size_t		stride;			/* value_size rounded up: where the key starts */
	size_t		count;
	size_t		mask;
	HEntry	  **buckets;
};


HMap *
hmap_new(size_t value_size)
{
	HMap	   *m = calloc(1, sizeof(HMap));

	if (m == NULL)
		return NULL;
	m->value_size = value_size;
	m->stride = (value_size + 7) & ~(size_t) 7;
	m->mask = 63;
	m->buckets = calloc(m->mask + 1, sizeof(HEntry *));
	if (m->buckets == NULL ||
		getrandom(m->key, sizeof(m->key), 0) != (ssize_t) sizeof(m->key))
	{
		free(m->buckets);
		free(m);
		return NULL;
	}
	return m;
}

void
hmap_free(HMap *m)
{
	size_t		i;

	if (m == NULL)
		return;
	for (i = 0; i <= m->mask; i++)
	{
		HEntry	   *e = m->buckets[i];

		while (e != NULL)
		{
			HEntry	   *next = e->next;

			free(e);
			e = next;
		}
	}
	free(m->buckets);
	free(m);
}

static HEntry **
hmap_slot(const HMap *m, uint64_t hash, const void *key, size_t keylen)
{
	HEntry	  **p = &m->buckets[hash & m->mask];

	while (*p != NULL &&
		   !((*p)->hash == hash && (*p)->keylen == keylen &&
			 memcmp((*p)->data + m->stride, key, keylen) == 0))
		p = &(*p)->next;
	return p;
}

void *
hmap_get(const HMap *m, const void *key, size_t keylen)
{
	HEntry	   *e = *hmap_slot(m, siphash24(m->key, key, keylen), key, keylen);

	return e != NULL ? e->data : NULL;
}

/* Doubles the table; on failure the map stays as it was, only slower. */
static void
hmap_grow(HMap *m)
{
	size_t		nb = (m->mask + 1) * 2;
	HEntry	  **buckets = calloc(nb, sizeof(HEntry *));
	size_t		i;

	if (buckets == NULL)
		return;
	for (i = 0; i <= m->mask; i++)
	{
		HEntry	   *e = m->buckets[i];

		while (e != NULL)
		{
			HEntry	   *next = e->next;

			e->next = buckets[e->hash & (nb - 1)];
			buckets[e->hash & (nb - 1)] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = buckets;
	m->mask = nb - 1;
}

bool
hmap_put(HMap *m, const void *key, size_t keylen, const void *value)
{
	uint64_t	hash = siphash24(m->key, key, keylen);
	HEntry	  **slot = hmap_slot(m, hash, key, keylen);
	HEntry	   *e;

	if (*slot != NULL)
	{
		memcpy((*slot)->data, value, m->value_size);
		return true;
	}
	e = malloc(sizeof(HEntry) + m->stride + keylen);
	if (e == NULL)
		return false;
	e->next = NULL;
	e->hash = hash;
	e->keylen = keylen;
	memcpy(e->data, value, m->value_size);
	memcpy(e->data + m->stride, key, keylen);
	*slot = e;
	if (++m->count > m->mask + 1)
		hmap_grow(m);
	return true;
}

bool
hmap_delete(HMap *m, const void *key, size_t keylen)
{
	HEntry	  **slot = hmap_slot(m, siphash24(m->key, key, keylen), key, keylen);
	HEntry	   *e = *slot;

	if (e == NULL)
		return false;
	*slot = e->next;
	free(e);
	m->count--;
	return true;
}

size_t
hmap_delete_if(HMap *m, bool (*drop) (const void *value, void *arg), void *arg)
{
	size_t		n = 0;
	size_t		i;

	for (i = 0; i <= m->mask; i++)
	{
		HEntry	  **p = &m->buckets[i];

		while (*p != NULL)
		{
			HEntry	   *e = *p;

			if (drop(e->data, arg))
			{
				*p = e->next;
				free(e);
				n++;
			}
			else
				p = &e->next;
		}
	}
	m->count -= n;
	return n;
}

size_t
hmap_count(const HMap *m)
{
	return m->count;
}
