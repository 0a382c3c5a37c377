/*
 * tokenbucket.h
 *		Token buckets for rate limits: the setting's text ("100/s,burst=200"),
 *		the arithmetic of taking a token, and a fixed-size table of buckets
 *		for when no shared store is at hand.
 *
 * A bucket holds up to burst tokens and gains count tokens per period; a
 * request takes one, or is refused with the time until one is there. The
 * arithmetic is GCRA (the generic cell rate algorithm), which behaves
 * exactly like such a bucket but keeps one number per bucket, its
 * "theoretical arrival time" (tat): the moment the bucket would be full
 * again. A bucket whose tat has passed is full and can be forgotten, so
 * stored buckets expire by themselves. The Lua script of the edge's Redis
 * limiter (edge/ratelimit.c) does the same arithmetic.
 *
 * Several buckets can be asked at once (a login counts against the
 * client's address and the user name): all or nothing, so a refused
 * request takes a token from none of them.
 *
 * Pure: times are microseconds given by the caller, the table lives in
 * memory the caller supplies, and nothing locks (callers do).
 */
#ifndef WARDEN_TOKENBUCKET_H
#define WARDEN_TOKENBUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKENBUCKET_COUNT_MAX 1000000
#define TOKENBUCKET_BURST_MAX 1000000
/* Longest time an empty bucket may take to fill: a year. */
#define TOKENBUCKET_FILL_MAX_US (365ULL * 24 * 3600 * 1000000)
/* Buckets one request may be counted in at once. */
#define TOKENBUCKET_MAX 4
#define TOKENBUCKET_TEXT_MAX 64
/* Table keys: digests of what is counted (the caller's choice of hash). */
#define TOKENBUCKET_KEY_LEN 16
/* Slots per set of the table; a multiple of this is its size. */
#define TOKENBUCKET_WAYS 8

typedef struct TokenBucketSpec
{
	bool		enabled;		/* false: "off", nothing is limited */
	uint32_t	count;			/* tokens gained per period */
	uint64_t	period_us;
	uint32_t	burst;			/* tokens the bucket holds */
	uint64_t	interval_us;	/* period_us / count: the time one token takes */
} TokenBucketSpec;

typedef struct TokenBucketVerdict
{
	bool		allowed;
	int			which;			/* the bucket the figures below are about */
	uint64_t	retry_us;		/* refused: until a token is there */
	uint32_t	limit;			/* its burst */
	uint32_t	remaining;		/* its tokens left after this request */
	uint64_t	reset_us;		/* until it is full again */
} TokenBucketVerdict;

typedef struct TokenBucketSlot
{
	unsigned char key[TOKENBUCKET_KEY_LEN];
	bool		used;
	uint64_t	tat;
} TokenBucketSlot;

typedef struct TokenBucketTable
{
	TokenBucketSlot *slots;
	size_t		nsets;
} TokenBucketTable;

/*
 * "off", or "<count>/<unit>[,burst=<n>]" with unit s, min, h or d; burst
 * defaults to count. Blanks around the parts are allowed. Counts and
 * bursts go from 1 to a million; an empty bucket must fill within a year.
 */
extern bool tokenbucket_parse(const char *text, TokenBucketSpec *out,
							  char *err, size_t errlen);

/* The canonical text of a spec, which tokenbucket_parse reads back. */
extern void tokenbucket_format(const TokenBucketSpec *spec,
							   char out[TOKENBUCKET_TEXT_MAX]);

/*
 * Takes one token from each of the n enabled buckets whose tats are
 * tat[0..n), or from none. On success each tat[i] moves on; when refused
 * they are left alone. A tat of 0 (or any time passed) is a full bucket.
 * v->which is the refusing bucket with the longest wait, else the bucket
 * with the fewest tokens left.
 */
extern void tokenbucket_take(uint64_t *tat, const TokenBucketSpec *const *specs,
							 int n, uint64_t now_us, TokenBucketVerdict *v);

/*
 * A table of nslots buckets (a multiple of TOKENBUCKET_WAYS) in slots,
 * which the caller zeroes and keeps. A key lives in one set of
 * TOKENBUCKET_WAYS slots; a new key takes an unused slot, else a full
 * bucket's (forgetting it loses nothing), else the bucket nearest to full
 * (forgetting it lets its owner a little early: the least harm).
 */
extern void tokenbucket_table_init(TokenBucketTable *t, TokenBucketSlot *slots,
								   size_t nslots);

/* tokenbucket_take over the table's buckets of keys[0..n). */
extern void tokenbucket_table_take(TokenBucketTable *t,
								   const unsigned char (*keys)[TOKENBUCKET_KEY_LEN],
								   const TokenBucketSpec *const *specs, int n,
								   uint64_t now_us, TokenBucketVerdict *v);

#endif							/* WARDEN_TOKENBUCKET_H */
