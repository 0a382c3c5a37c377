/*
 * hmap.h
 *		A growable hash map of byte-string keys to fixed-size values, for
 *		sets that must never drop an entry on their own (revoked token ids,
 *		principal states): unlike lcache there is no bound and no expiry.
 *
 * Not thread-safe: the owner locks. Keys are hashed with SipHash under a
 * random key (see siphash.h).
 */
#ifndef EDGE_HMAP_H
#define EDGE_HMAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct HMap HMap;

/* NULL when out of memory. */
extern HMap *hmap_new(size_t value_size);
extern void hmap_free(HMap *m);

/* The value of key, or NULL; valid until the map next changes. */
extern void *hmap_get(const HMap *m, const void *key, size_t keylen);

/* Inserts or replaces; false when out of memory (the map is unchanged). */
extern bool hmap_put(HMap *m, const void *key, size_t keylen, const void *value);

extern bool hmap_delete(HMap *m, const void *key, size_t keylen);

/* Deletes every entry for which drop(value, arg) is true; returns how many. */
extern size_t hmap_delete_if(HMap *m, bool (*drop) (const void *value, void *arg),
							 void *arg);

extern size_t hmap_count(const HMap *m);

#endif							/* EDGE_HMAP_H */
