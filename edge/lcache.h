/*
 * lcache.h
 *		The edge's in-process caches: bounded, sharded hash tables of byte
 *		strings with an expiry and a generation.
 *
 * Verified tokens, API keys and authorization decisions are each kept in
 * one. Values are copied in and out, so no caller holds a pointer into the
 * cache and entries can be dropped at any time. An entry is found only
 * under the generation it was stored with: a caller that learns its
 * source changed (a new policy version) passes the new generation and
 * every older entry is a miss at once, without a sweep. Expiry and the
 * entry bound only limit memory; correctness never depends on them.
 *
 * Thread-safe: each of the shards has its own mutex, held only to copy.
 * Keys are hashed with SipHash under a random key, so clients that choose
 * keys (paths, tokens) cannot pile them into one bucket.
 */
#ifndef EDGE_LCACHE_H
#define EDGE_LCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct LCache LCache;

/* NULL when out of memory. max_entries is at least 1. */
extern LCache *lcache_new(size_t max_entries);
extern void lcache_free(LCache *c);

/*
 * Copies the value stored under key and generation into out, when it has
 * not expired at now_ms and fits in outsize; returns its length, or -1.
 */
extern long lcache_get(LCache *c, const void *key, size_t keylen,
					   uint64_t generation, int64_t now_ms,
					   void *out, size_t outsize);

/*
 * Stores (or replaces) key's value until expires_ms; the oldest entry of
 * the shard makes room when it is full, and leaves anyway when it has
 * expired at now_ms. False only when out of memory.
 */
extern bool lcache_put(LCache *c, const void *key, size_t keylen,
					   uint64_t generation, int64_t now_ms,
					   int64_t expires_ms, const void *value, size_t vallen);

extern void lcache_clear(LCache *c);

/* Entries held, and lookups that found or missed, since the start. */
extern size_t lcache_count(LCache *c);
extern void lcache_stats(LCache *c, uint64_t *hits, uint64_t *misses);

/*
 * The generation of a cache that follows a version kept elsewhere (the
 * database's policy version, its API-key version). A version from a NOTIFY
 * counts only when newer (notifications may be read late); one from a full
 * load counts whenever it differs (the database may have been restored).
 * Each change makes a new local generation, so entries of the old one are
 * misses at once. Thread-safe.
 */
typedef struct LCacheVersion
{
	pthread_mutex_t lock;
	uint64_t	version;		/* under lock */
	_Atomic uint64_t generation;
} LCacheVersion;

#define LCACHE_VERSION_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 1}

extern void lcache_version_set(LCacheVersion *v, uint64_t version, bool full_load);
extern uint64_t lcache_version_get(LCacheVersion *v);
extern uint64_t lcache_generation(LCacheVersion *v);
/* Both at once, as they belong together (a version and its generation). */
extern void lcache_version_snapshot(LCacheVersion *v, uint64_t *version,
									uint64_t *generation);

#endif							/* EDGE_LCACHE_H */
