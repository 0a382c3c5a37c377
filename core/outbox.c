/*
 * outbox.c
 *		The delivery rules of the outbox: key hashes, partitions, confirm
 *		bookkeeping, each row's fate after a batch, and retry backoff.
 */
#include "outbox.h"

#include <string.h>

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t
fnv_mix(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t
outbox_key_hash(const char *exchange, size_t exchange_len,
				const char *routing_key, size_t routing_key_len)
{
	/*
	 * The lengths go into the hash so that ("a.b", "c") and ("a", "b.c")
	 * differ; they are mixed in as fixed-width little-endian values so that
	 * every platform computes the stored value alike.
	 */
	unsigned char lens[8];
	uint64_t	h = FNV_OFFSET;
	int			i;

	for (i = 0; i < 4; i++)
	{
		lens[i] = (unsigned char) (exchange_len >> (8 * i));
		lens[4 + i] = (unsigned char) (routing_key_len >> (8 * i));
	}
	h = fnv_mix(h, lens, sizeof(lens));
	h = fnv_mix(h, exchange, exchange_len);
	h = fnv_mix(h, routing_key, routing_key_len);
	/* FNV's low bits mix poorly; fold the high half in before the modulo. */
	h ^= h >> 29;
	return h & INT64_MAX;		/* fits a SQL bigint, never negative */
}

int
outbox_partition(uint64_t key, int workers)
{
	if (workers <= 1)
		return 0;
	return (int) (key % (uint64_t) workers);
}

bool
outbox_valid_exchange(const char *name, size_t len)
{
	size_t		i;

	if (len > OUTBOX_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
			  c == ':'))
			return false;
	}
	return true;
}

void
outbox_sent(OutboxBatch *b, int i, uint64_t tag)
{
	b->tag[i] = tag;
	b->answer[i] = OUTBOX_AWAITING;
	b->awaiting++;
}

int
outbox_confirm(OutboxBatch *b, uint64_t tag, bool multiple, bool ack)
{
	int			settled = 0;
	int			i;

	/*
	 * Tags rise with the index (one channel, published in order), but a
	 * batch is a few hundred messages: a linear pass is as fast as a search
	 * and needs no such assumption.
	 */
	for (i = 0; i < b->n; i++)
	{
		if (b->tag[i] == 0 ||
			(b->answer[i] != OUTBOX_AWAITING && b->answer[i] != OUTBOX_RETURNED))
			continue;
		if (b->tag[i] == tag || (multiple && b->tag[i] < tag))
		{
			/*
			 * A returned message is acked afterwards: the ack only says the
			 * broker is done with it, the return stands.
			 */
			if (b->answer[i] == OUTBOX_AWAITING)
				b->answer[i] = ack ? OUTBOX_ACKED : OUTBOX_NACKED;
			b->tag[i] = 0;
			b->awaiting--;
			settled++;
		}
	}
	return settled;
}

int
outbox_returned(OutboxBatch *b, const char *message_id)
{
	int			i;

	for (i = 0; i < b->n; i++)
	{
		if (b->answer[i] == OUTBOX_AWAITING &&
			strcmp(b->message_id[i], message_id) == 0)
		{
			b->answer[i] = OUTBOX_RETURNED;
			return i;
		}
	}
	return -1;
}

void
outbox_settle(const OutboxBatch *b, OutboxFate *fate)
{
	int			i;

	for (i = 0; i < b->n; i++)
	{
		int			j;
		bool		blocked = false;

		/* An earlier message of this key that was not delivered? */
		for (j = i - 1; j >= 0 && !blocked; j--)
			blocked = b->key[j] == b->key[i] && fate[j] != OUTBOX_DELIVERED;

		if (blocked)
			fate[i] = OUTBOX_AGAIN;
		else
			switch (b->answer[i])
			{
				case OUTBOX_ACKED:
					fate[i] = OUTBOX_DELIVERED;
					break;
				case OUTBOX_NACKED:
				case OUTBOX_RETURNED:
				case OUTBOX_REFUSED:
					fate[i] = OUTBOX_FAILED;
					break;
				case OUTBOX_UNSENT:
				case OUTBOX_AWAITING:
					fate[i] = OUTBOX_AGAIN;
					break;
			}
	}
}

int64_t
outbox_backoff_ms(int attempt, int64_t min_ms, int64_t max_ms, uint32_t random)
{
	int64_t		d = min_ms > 0 ? min_ms : 1;
	int64_t		half;
	int			i;

	if (max_ms < d)
		max_ms = d;
	for (i = 1; i < attempt && d < max_ms; i++)
		d = d > max_ms / 2 ? max_ms : d * 2;
	if (d > max_ms)
		d = max_ms;
	half = d / 2;
	return d - half + (int64_t) ((unsigned __int128) half * random / UINT32_MAX);
}
