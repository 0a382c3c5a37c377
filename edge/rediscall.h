/*
 * rediscall.h
 *		Redis commands without blocking the event loop: one Redis thread
 *		owns one connection and sends what the rest of the edge queues,
 *		pipelined in batches.
 *
 * Two ways to ask:
 *	- rediscall_submit: for a request handler. The request is suspended;
 *	  when the reply is in (or the command failed), complete runs on the
 *	  request's thread and reads rediscall_result(req).
 *	- rediscall_send: from any thread, with a callback that runs on the
 *	  Redis thread (NULL reply on failure). For cache writes (SET ... EX)
 *	  and lookups made outside HTTP requests.
 *
 * Failing fast: while Redis is down (not connected, reconnecting with
 * back-off from 0.1 s to 2 s), and when the queue is full, nothing is
 * queued: submit completes at once with a NULL result, send returns false.
 * Every command has a deadline: one not sent by then fails, and a
 * connection that does not answer within the latest deadline of a batch is
 * dropped (its commands fail) and made again.
 *
 * Callbacks run on the Redis thread, one at a time, and must not block:
 * copy what they need, resume or signal, and return. They may queue more
 * commands (rediscall_send), never wait for them.
 *
 * Threads: rediscall_start/rediscall_stop from the main thread; everything
 * else from any thread.
 */
#ifndef EDGE_REDISCALL_H
#define EDGE_REDISCALL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http.h"

/* reply is NULL when the command failed (no connection, timed out, broke). */
typedef void (*RedisCallDone) (void *arg, const redisReply *reply);

/*
 * Starts the Redis thread, which connects at once and keeps reconnecting.
 * timeout_ms is the deadline of rediscall_send's commands.
 */
extern bool rediscall_start(const RedisUrl *url, int timeout_ms,
							char *err, size_t errlen);

/*
 * Fails every queued command (suspended requests resume with a NULL
 * result, callbacks get NULL), closes the connection and joins the thread.
 * Later calls fail at once.
 */
extern void rediscall_stop(void);

/*
 * Suspends req and sends the command (argv[i] of argvlen[i] bytes, copied)
 * with a deadline timeout_ms from now; complete then runs on the request's
 * thread. The command's state takes the request's call slot (http_set_call),
 * as a database call's does: the handler's data is left alone.
 * False only when nothing could be set up (the connection then closes).
 */
extern bool rediscall_submit(HttpRequest *req, int argc, const char **argv,
							 const size_t *argvlen, int timeout_ms,
							 HttpHandler complete);

/*
 * In complete: the reply, valid until the request ends or its data is
 * replaced; NULL when the command failed. An error reply (type
 * REDIS_REPLY_ERROR) is a reply: Redis answered.
 */
extern const redisReply *rediscall_result(HttpRequest *req);

/*
 * Queues the command (copied) with the default deadline; done (may be
 * NULL) runs on the Redis thread with the reply, which it must not keep.
 * False when Redis is down, the queue is full or the edge is stopping:
 * then nothing was queued and done is never called.
 */
extern bool rediscall_send(int argc, const char **argv, const size_t *argvlen,
						   RedisCallDone done, void *arg);

/*
 * A function the Redis thread runs about every interval_ms while work for
 * it is announced (rediscall_tick_soon), to send in one command what many
 * requests gathered meanwhile (the rate limits' counts). It runs on the
 * Redis thread like a callback (may rediscall_send, must not block) and
 * returns true to be run again after another interval. Set once, before
 * anything calls rediscall_tick_soon.
 */
typedef bool (*RedisCallTick) (void);
extern void rediscall_set_tick(RedisCallTick tick, int interval_ms);
/* The tick has work: run it within its interval. Cheap when it is due. */
extern void rediscall_tick_soon(void);

/* Connected now (a command queued now will be sent). */
extern bool rediscall_up(void);

/* For /metrics. */
typedef struct RedisCallStats
{
	unsigned long commands;		/* replies received (error replies too) */
	unsigned long errors;		/* commands without a reply, failed connects */
	unsigned long reconnects;	/* connections made after the first */
	int			queued;			/* waiting to be sent */
	bool		up;
} RedisCallStats;

extern void rediscall_stats(RedisCallStats *stats);

#endif							/* EDGE_REDISCALL_H */
