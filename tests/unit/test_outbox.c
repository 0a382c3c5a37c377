/*
 * test_outbox.c
 *		Tests of core/outbox: stable key hashes and partitions, exchange name
 *		rules, confirm bookkeeping (single, multiple, stale, nack, return
 *		before ack), each row's fate after a batch, and the backoff curve.
 */
#include "unit.h"

#include "outbox.h"

#include <stdint.h>

#define KEY(e, r) outbox_key_hash(e, strlen(e), r, strlen(r))

static void
test_key_hash(void)
{
	uint64_t	a = KEY("orders", "order.1");

	UNIT_CHECK(a == KEY("orders", "order.1"), "the hash is stable");
	UNIT_CHECK(a <= INT64_MAX, "the hash fits a bigint");
	UNIT_CHECK(KEY("a.b", "c") != KEY("a", "b.c"), "lengths separate the names");
	UNIT_CHECK(KEY("", "q") != KEY("q", ""), "the default exchange is its own key");
	UNIT_CHECK(KEY("orders", "order.1") != KEY("orders", "order.2"), "keys differ");
	/* The stored value must never change between releases. */
	UNIT_CHECK(KEY("", "") == UINT64_C(0x28c7f8376e25f854) ||
			   (printf("# hash of the empty key: 0x%016llx\n",
					   (unsigned long long) KEY("", "")), 0),
			   "the hash of the empty key is the published constant");
}

static void
test_partition(void)
{
	int			counts[4] = {0};
	char		rk[32];
	int			i;

	UNIT_CHECK(outbox_partition(12345, 1) == 0, "one worker serves all");
	UNIT_CHECK(outbox_partition(12345, 0) == 0, "no workers: partition 0");
	for (i = 0; i < 4000; i++)
	{
		snprintf(rk, sizeof(rk), "order.%d", i);
		counts[outbox_partition(KEY("orders", rk), 4)]++;
	}
	for (i = 0; i < 4; i++)
		UNIT_CHECK(counts[i] > 800 && counts[i] < 1200,
				   "partition %d gets a fair share (%d of 4000)", i, counts[i]);
}

static void
test_exchange_names(void)
{
	char		longname[300];

	UNIT_CHECK(outbox_valid_exchange("", 0), "the default exchange");
	UNIT_CHECK(outbox_valid_exchange("amq.topic", 9), "amq.topic");
	UNIT_CHECK(outbox_valid_exchange("a-b_c.d:e", 9), "every allowed symbol");
	UNIT_CHECK(!outbox_valid_exchange("a b", 3), "no spaces");
	UNIT_CHECK(!outbox_valid_exchange("a/b", 3), "no slashes");
	UNIT_CHECK(!outbox_valid_exchange("é", strlen("é")), "no non-ASCII");
	UNIT_CHECK(!outbox_valid_exchange("a\0b", 3), "no NUL");
	memset(longname, 'x', sizeof(longname));
	UNIT_CHECK(outbox_valid_exchange(longname, 255), "255 bytes");
	UNIT_CHECK(!outbox_valid_exchange(longname, 256), "256 bytes");
}

/* A batch of n messages with the given keys, all published in order. */
typedef struct TestBatch
{
	OutboxBatch b;
	uint64_t	key[8];
	const char *id[8];
	uint64_t	tag[8];
	OutboxAnswer answer[8];
	OutboxFate	fate[8];
} TestBatch;

static void
batch_init(TestBatch *t, int n, const uint64_t *keys, bool publish)
{
	static const char *ids[8] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"};
	int			i;

	memset(t, 0, sizeof(*t));
	t->b.n = n;
	t->b.key = t->key;
	t->b.message_id = t->id;
	t->b.tag = t->tag;
	t->b.answer = t->answer;
	for (i = 0; i < n; i++)
	{
		t->key[i] = keys[i];
		t->id[i] = ids[i];
		if (publish)
			outbox_sent(&t->b, i, (uint64_t) i + 1);
	}
}

static void
test_confirms(void)
{
	static const uint64_t keys[6] = {1, 2, 1, 3, 2, 1};
	TestBatch	t;

	batch_init(&t, 6, keys, true);
	UNIT_CHECK(t.b.awaiting == 6, "six awaiting");
	UNIT_CHECK(outbox_confirm(&t.b, 2, true, true) == 2, "multiple ack settles tags 1-2");
	UNIT_CHECK(outbox_confirm(&t.b, 2, true, true) == 0, "a repeated ack settles nothing");
	UNIT_CHECK(outbox_confirm(&t.b, 99, false, true) == 0, "an unknown tag settles nothing");
	UNIT_CHECK(outbox_confirm(&t.b, 4, false, false) == 1, "single nack of tag 4");
	UNIT_CHECK(outbox_returned(&t.b, "m5") == 5, "return matched by message id");
	UNIT_CHECK(outbox_returned(&t.b, "m5") == -1, "a message is returned once");
	UNIT_CHECK(outbox_returned(&t.b, "nope") == -1, "an unknown id matches nothing");
	UNIT_CHECK(outbox_confirm(&t.b, 6, true, true) == 3, "ack up to 6 settles 3, 5, 6");
	UNIT_CHECK(t.b.awaiting == 0, "nothing awaiting");
	UNIT_CHECK(t.answer[0] == OUTBOX_ACKED && t.answer[1] == OUTBOX_ACKED &&
			   t.answer[2] == OUTBOX_ACKED && t.answer[3] == OUTBOX_NACKED &&
			   t.answer[4] == OUTBOX_ACKED && t.answer[5] == OUTBOX_RETURNED,
			   "answers: ack ack ack nack ack return");
}

static void
test_settle(void)
{
	static const uint64_t keys[6] = {1, 2, 1, 3, 2, 1};
	TestBatch	t;

	/* Everything acked: everything delivered. */
	batch_init(&t, 6, keys, true);
	outbox_confirm(&t.b, 6, true, true);
	outbox_settle(&t.b, t.fate);
	UNIT_CHECK(t.fate[0] == OUTBOX_DELIVERED && t.fate[5] == OUTBOX_DELIVERED,
			   "all acked: all delivered");

	/* Message 2 (key 2) nacked: 4 (key 2) goes again, keys 1 and 3 flow. */
	batch_init(&t, 6, keys, true);
	outbox_confirm(&t.b, 1, false, true);
	outbox_confirm(&t.b, 2, false, false);
	outbox_confirm(&t.b, 6, true, true);
	outbox_settle(&t.b, t.fate);
	UNIT_CHECK(t.fate[1] == OUTBOX_FAILED, "the nacked message failed");
	UNIT_CHECK(t.fate[4] == OUTBOX_AGAIN, "its key's later message goes again, though acked");
	UNIT_CHECK(t.fate[0] == OUTBOX_DELIVERED && t.fate[2] == OUTBOX_DELIVERED &&
			   t.fate[3] == OUTBOX_DELIVERED && t.fate[5] == OUTBOX_DELIVERED,
			   "other keys are delivered");

	/* Connection lost after tag 3 was acked: the rest goes again uncounted. */
	batch_init(&t, 6, keys, true);
	outbox_confirm(&t.b, 3, true, true);
	outbox_settle(&t.b, t.fate);
	UNIT_CHECK(t.fate[2] == OUTBOX_DELIVERED && t.fate[3] == OUTBOX_AGAIN &&
			   t.fate[4] == OUTBOX_AGAIN && t.fate[5] == OUTBOX_AGAIN,
			   "unconfirmed messages go again without an attempt");

	/* A refused exchange before publishing: its key waits, others flow. */
	batch_init(&t, 6, keys, false);
	t.answer[0] = OUTBOX_REFUSED;
	outbox_sent(&t.b, 1, 1);
	outbox_sent(&t.b, 2, 2);
	outbox_sent(&t.b, 3, 3);
	outbox_confirm(&t.b, 3, true, true);
	outbox_settle(&t.b, t.fate);
	UNIT_CHECK(t.fate[0] == OUTBOX_FAILED, "refused: failed");
	UNIT_CHECK(t.fate[2] == OUTBOX_AGAIN && t.fate[5] == OUTBOX_AGAIN,
			   "later messages of a refused key wait");
	UNIT_CHECK(t.fate[1] == OUTBOX_DELIVERED && t.fate[3] == OUTBOX_DELIVERED,
			   "other keys are delivered");
	UNIT_CHECK(t.fate[4] == OUTBOX_AGAIN, "an unsent message goes again");
}

static void
test_backoff(void)
{
	int			a;

	UNIT_CHECK(outbox_backoff_ms(1, 1000, 60000, 0) == 500, "first: half of min at random 0");
	UNIT_CHECK(outbox_backoff_ms(1, 1000, 60000, UINT32_MAX) == 1000, "first: min at random max");
	UNIT_CHECK(outbox_backoff_ms(2, 1000, 60000, UINT32_MAX) == 2000, "second: doubled");
	UNIT_CHECK(outbox_backoff_ms(5, 1000, 60000, UINT32_MAX) == 16000, "fifth: 16 s");
	UNIT_CHECK(outbox_backoff_ms(10, 1000, 60000, UINT32_MAX) == 60000, "capped at max");
	UNIT_CHECK(outbox_backoff_ms(1000000, 1000, 60000, 0) == 30000, "huge attempt: capped, no overflow");
	UNIT_CHECK(outbox_backoff_ms(3, 0, 0, UINT32_MAX) == 1, "zero limits: 1 ms");
	UNIT_CHECK(outbox_backoff_ms(70, INT64_MAX / 2, INT64_MAX, UINT32_MAX) == INT64_MAX,
			   "no overflow near INT64_MAX");
	for (a = 1; a < 40; a++)
	{
		int64_t		lo = outbox_backoff_ms(a, 100, 300000, 0);
		int64_t		hi = outbox_backoff_ms(a, 100, 300000, UINT32_MAX);

		UNIT_CHECK(lo <= hi && lo * 2 >= hi - 1 && hi <= 300000,
				   "attempt %d: jitter stays within [d/2, d]", a);
	}
}

int
main(void)
{
	test_key_hash();
	test_partition();
	test_exchange_names();
	test_confirms();
	test_settle();
	test_backoff();
	return UNIT_MAIN_END();
}
