/*
 * outbox.h
 *		The delivery rules of warden's transactional outbox, apart from any
 *		database or broker: which key a message belongs to, which worker
 *		serves it, what a publisher confirm settles, what becomes of each
 *		message of a batch, and how long a failed message waits.
 *
 * A batch is a run of outbox rows in id order, which is commit order within
 * each key (exchange, routing key). The worker publishes the batch on a
 * channel in confirm mode, feeds the broker's answers to an OutboxBatch,
 * and outbox_settle() then decides every row's fate so that, per key,
 * nothing later overtakes a message that failed: once a message of a key
 * fails, every later message of that key in the batch is sent again after
 * it, even if the broker acked it (the broker then sees a duplicate with the
 * same message_id, never a gap or an inversion in the last copies).
 */
#ifndef WARDEN_OUTBOX_H
#define WARDEN_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest exchange name or routing key AMQP 0-9-1 can carry. */
#define OUTBOX_NAME_MAX 255

/* What the broker said about one message. */
typedef enum OutboxAnswer
{
	OUTBOX_UNSENT = 0,			/* not published (yet) */
	OUTBOX_AWAITING,			/* published, no confirm yet */
	OUTBOX_ACKED,				/* basic.ack: the broker has it */
	OUTBOX_NACKED,				/* basic.nack: the broker lost it */
	OUTBOX_RETURNED,			/* basic.return: no queue for it */
	OUTBOX_REFUSED				/* its exchange does not exist */
} OutboxAnswer;

/* What becomes of one row after its batch. */
typedef enum OutboxFate
{
	OUTBOX_DELIVERED,			/* mark delivered */
	OUTBOX_FAILED,				/* its own failure: count an attempt, back off */
	OUTBOX_AGAIN				/* send again later, no attempt counted */
} OutboxFate;

typedef struct OutboxBatch
{
	int			n;
	const uint64_t *key;		/* each message's key hash */
	const char *const *message_id;	/* to match basic.return to a message */
	uint64_t   *tag;			/* delivery tag, 0 if not published */
	OutboxAnswer *answer;
	int			awaiting;		/* messages published and not yet confirmed */
} OutboxBatch;

/*
 * The key hash of (exchange, routing key): 63 bits, FNV-1a over both names
 * and the lengths between them. Stored with each row; it places a key on
 * one worker and names the lock that orders a key's commits.
 */
extern uint64_t outbox_key_hash(const char *exchange, size_t exchange_len,
								const char *routing_key, size_t routing_key_len);

/* The worker (0 .. workers-1) that serves a key. */
extern int	outbox_partition(uint64_t key, int workers);

/*
 * True when name is a valid AMQP exchange name: at most 255 bytes of
 * letters, digits, '-', '_', '.' and ':'. The empty name is the default
 * exchange.
 */
extern bool outbox_valid_exchange(const char *name, size_t len);

/* Marks message i published with delivery tag tag. */
extern void outbox_sent(OutboxBatch *b, int i, uint64_t tag);

/*
 * Applies basic.ack / basic.nack (multiple: every tag up to this one).
 * Returns the number of messages it settled; 0 for a tag of no awaiting
 * message (a stale or duplicate confirm, which is ignored).
 */
extern int	outbox_confirm(OutboxBatch *b, uint64_t tag, bool multiple, bool ack);

/*
 * Applies basic.return of the message with this message_id: the first
 * awaiting message with it that has not been returned yet (the broker
 * returns a message before it acks it, in publish order). Returns its
 * index, or -1 when none matches.
 */
extern int	outbox_returned(OutboxBatch *b, const char *message_id);

/*
 * Decides each row's fate into fate[0..n-1]. Messages still awaiting or
 * unsent (a lost connection) go again without counting an attempt; a nack,
 * a return or a refused exchange is the message's own failure; and per key,
 * everything after a message that was not delivered goes again.
 */
extern void outbox_settle(const OutboxBatch *b, OutboxFate *fate);

/*
 * The wait before the next attempt after the attempt'th failure (1-based):
 * min_ms doubled per attempt up to max_ms, then "equal jitter": half of it
 * fixed, the other half scaled by random (0 .. UINT32_MAX), so that a burst
 * of failures does not retry in lockstep.
 */
extern int64_t outbox_backoff_ms(int attempt, int64_t min_ms, int64_t max_ms,
								 uint32_t random);

#endif							/* WARDEN_OUTBOX_H */
