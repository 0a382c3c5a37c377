/*
 * siphash.h
 *		SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash.
 *
 * Hash tables whose keys come from clients (paths, tokens, principal names)
 * must not let a client choose keys that all fall into one bucket. With a
 * secret random key per process, SipHash makes such collisions as hard to
 * find as the key, at a cost close to FNV's.
 */
#ifndef WARDEN_SIPHASH_H
#define WARDEN_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

extern uint64_t siphash24(const unsigned char key[SIPHASH_KEY_LEN],
						  const void *data, size_t len);

#endif							/* WARDEN_SIPHASH_H */
