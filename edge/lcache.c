/*
 * lcache.c
 *		Bounded, sharded in-process caches (see lcache.h).
 *
 * Each shard is a chained hash table plus a list in insertion order; a
 * full shard drops its oldest entry, and a put first drops the oldest if
 * it has expired, so expired entries leave without a timer. A stale
 * generation found by a lookup is dropped on the spot.
 */
#include "lcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "siphash.h"

#define LCACHE_SHARDS 32

typedef struct LEntry
{
	struct LEntry *chain;		/* next in the bucket */
	struct LEntry *older;		/* insertion order */
	struct LEntry *newer;
	uint64_t	hash;
	uint64_t	generation;
	int64_t		expires_ms;
	size_t		keylen;
	size_t		vallen;
	unsigned char data[];		/* key, then value */
} LEntry;

typedef struct LShard
{
	pthread_mutex_t lock;
	LEntry	  **buckets;
	size_t		mask;
	size_t		count;
	size_t		max;
	LEntry	   *oldest;
	LEntry	   *newest;
} LShard;

struct LCache
{
	unsigned char key[SIPHASH_KEY_LEN];
	atomic_uint_fast64_t hits;
	atomic_uint_fast64_t misses;
	LShard		shards[LCACHE_SHARDS];
};

LCache *
lcache_new(size_t max_entries)
{
	LCache	   *c = calloc(1, sizeof(LCache));
	size_t		per = (max_entries + LCACHE_SHARDS - 1) / LCACHE_SHARDS;
	size_t		nb = 8;
	int			i;

	if (c == NULL)
		return NULL;
	if (getrandom(c->key, sizeof(c->key), 0) != (ssize_t) sizeof(c->key))
	{
		free(c);
		return NULL;
	}
	if (per == 0)
		per = 1;
	while (nb < per)
		nb <<= 1;
	for (i = 0; i < LCACHE_SHARDS; i++)
	{
		LShard	   *s = &c->shards[i];

		s->buckets = calloc(nb, sizeof(LEntry *));
		if (s->buckets == NULL || pthread_mutex_init(&s->lock, NULL) != 0)
		{
			free(s->buckets);
			while (--i >= 0)
			{
				pthread_mutex_destroy(&c->shards[i].lock);
				free(c->shards[i].buckets);
			}
			free(c);
			return NULL;
		}
		s->mask = nb - 1;
		s->max = per;
	}
	atomic_init(&c->hits, 0);
	atomic_init(&c->misses, 0);
	return c;
}

/* Unlinks e from its bucket and the order list, and frees it. */
static void
lcache_drop(LShard *s, LEntry *e)
{
	LEntry	  **p = &s->buckets[e->hash & s->mask];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	s->count--;
	free(e);
}

static void
lcache_shard_clear(LShard *s)
{
	while (s->oldest != NULL)
		lcache_drop(s, s->oldest);
}

void
lcache_free(LCache *c)
{
	int			i;

	if (c == NULL)
		return;
	for (i = 0; i < LCACHE_SHARDS; i++)
	{
		lcache_shard_clear(&c->shards[i]);
		pthread_mutex_destroy(&c->shards[i].lock);
		free(c->shards[i].buckets);
	}
	free(c);
}

/* The entry of key in shard s, or NULL; the shard's lock is held. */
static LEntry *
lcache_find(LShard *s, uint64_t hash, const void *key, size_t keylen)
{
	LEntry	   *e;

	for (e = s->buckets[hash & s->mask]; e != NULL; e = e->chain)
		if (e->hash == hash && e->keylen == keylen &&
			memcmp(e->data, key, keylen) == 0)
			return e;
	return NULL;
}

/*
 * The shard takes the high bits of the hash and the bucket the low ones,
 * so the two choices are independent.
 */
static LShard *
lcache_shard(LCache *c, uint64_t hash)
{
	return &c->shards[(hash >> 59) % LCACHE_SHARDS];
}

long
lcache_get(LCache *c, const void *key, size_t keylen, uint64_t generation,
		   int64_t now_ms, void *out, size_t outsize)
{
	uint64_t	hash = siphash24(c->key, key, keylen);
	LShard	   *s = lcache_shard(c, hash);
	LEntry	   *e;
	long		got = -1;

	pthread_mutex_lock(&s->lock);
	e = lcache_find(s, hash, key, keylen);
	if (e != NULL && (e->generation != generation || e->expires_ms <= now_ms))
	{
		lcache_drop(s, e);
		e = NULL;
	}
	if (e != NULL && e->vallen <= outsize)
	{
		memcpy(out, e->data + keylen, e->vallen);
		got = (long) e->vallen;
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(got >= 0 ? &c->hits : &c->misses, 1);
	return got;
}

bool
lcache_put(LCache *c, const void *key, size_t keylen, uint64_t generation,
		   int64_t now_ms, int64_t expires_ms, const void *value, size_t vallen)
{
	uint64_t	hash = siphash24(c->key, key, keylen);
	LShard	   *s = lcache_shard(c, hash);
	LEntry	   *e = malloc(sizeof(LEntry) + keylen + vallen);
	LEntry	   *old;

	if (e == NULL)
		return false;
	e->hash = hash;
	e->generation = generation;
	e->expires_ms = expires_ms;
	e->keylen = keylen;
	e->vallen = vallen;
	memcpy(e->data, key, keylen);
	memcpy(e->data + keylen, value, vallen);
	e->newer = NULL;

	pthread_mutex_lock(&s->lock);
	old = lcache_find(s, hash, key, keylen);
	if (old != NULL)
		lcache_drop(s, old);
	if (s->oldest != NULL && s->count >= s->max)
		lcache_drop(s, s->oldest);
	/* two at a time, so expired entries leave faster than new ones come */
	for (int i = 0; i < 2 && s->oldest != NULL && s->oldest->expires_ms <= now_ms; i++)
		lcache_drop(s, s->oldest);
	e->chain = s->buckets[hash & s->mask];
	s->buckets[hash & s->mask] = e;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
	s->count++;
	pthread_mutex_unlock(&s->lock);
	return true;
}

void
lcache_clear(LCache *c)
{
	int			i;

	for (i = 0; i < LCACHE_SHARDS; i++)
	{
		pthread_mutex_lock(&c->shards[i].lock);
		lcache_shard_clear(&c->shards[i]);
		pthread_mutex_unlock(&c->shards[i].lock);
	}
}

size_t
lcache_count(LCache *c)
{
	size_t		n = 0;
	int			i;

	for (i = 0; i < LCACHE_SHARDS; i++)
	{
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].count;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}

void
lcache_stats(LCache *c, uint64_t *hits, uint64_t *misses)
{
	*hits = atomic_load(&c->hits);
	*misses = atomic_load(&c->misses);
}

void
lcache_version_set(LCacheVersion *v, uint64_t version, bool full_load)
{
	pthread_mutex_lock(&v->lock);
	if (full_load ? version != v->version : version > v->version)
	{
		v->version = version;
		atomic_fetch_add(&v->generation, 1);
	}
	pthread_mutex_unlock(&v->lock);
}

uint64_t
lcache_version_get(LCacheVersion *v)
{
	uint64_t	version;

	pthread_mutex_lock(&v->lock);
	version = v->version;
	pthread_mutex_unlock(&v->lock);
	return version;
}

uint64_t
lcache_generation(LCacheVersion *v)
{
	return atomic_load(&v->generation);
}

void
lcache_version_snapshot(LCacheVersion *v, uint64_t *version, uint64_t *generation)
{
	pthread_mutex_lock(&v->lock);
	*version = v->version;
	*generation = atomic_load(&v->generation);
	pthread_mutex_unlock(&v->lock);
}
