/*
 * digest.h
 *		SHA-256 on the request path, without an allocation per call.
 *
 * OpenSSL 3's one-shot SHA256() looks the algorithm up by name (under a
 * lock) and allocates a context at every call, and the edge hashes a
 * token, an API key or a rate-limit bucket's name on nearly every request.
 * Here the algorithm is fetched once and each thread keeps one context,
 * freed when the thread ends.
 */
#ifndef EDGE_DIGEST_H
#define EDGE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_SHA256_LEN 32

/* SHA-256 of a (alen bytes) followed by b (blen bytes; b may be NULL). */
extern bool digest_sha256(const void *a, size_t alen, const void *b, size_t blen,
						  unsigned char out[DIGEST_SHA256_LEN]);

#endif							/* EDGE_DIGEST_H */
