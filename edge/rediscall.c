/*
 * rediscall.c
 *		Redis commands off the event loop: one thread, one connection, a
 *		bounded queue, pipelined batches (see rediscall.h).
 *
 * The Redis thread's rhythm: take every queued command (up to a batch),
 * append each to hiredis's output buffer (redisAppendCommandArgv), then
 * read the replies in order (redisGetReply, whose first call writes the
 * whole buffer). One round trip carries the batch, so the one connection
 * keeps up with tens of thousands of commands a second, and the batch
 * grows by itself when the server is slow. With nothing to do for a
 * second the thread sends PING, so a dead server is noticed (and
 * rediscall_up() turns false) without waiting for the next command.
 *
 * Why the blocking API with socket timeouts rather than hiredis's async
 * one: the thread has nothing else to do, and redisconn.c already bounds
 * connect, AUTH and SELECT by a deadline. The read timeout of a batch is
 * the latest deadline in it: a reply that comes late but within that is
 * still delivered (late beats a fallback); no reply by then means the
 * server is gone or stuck, and the connection, whose replies could no
 * longer be matched to commands, is dropped.
 *
 * Failure: a dropped connection fails the rest of its batch and everything
 * queued, marks Redis down (new commands fail at once), and is made again
 * after 0.1 s, doubling up to 2 s while connecting fails.
 *
 * The tick (rediscall_set_tick) runs between batches once its time has
 * come; the thread sleeps no longer than that while it is armed, and not
 * at all when nothing announced work, so an idle edge is not woken.
 *
 * Locking: rediscall.lock guards the queue, up, stopping and the tick's
 * arming. The
 * connection, the batch and the back-off belong to the Redis thread.
 * Callbacks and resumptions run without the lock held, so a callback may
 * queue more. Counters are atomics.
 */
#include "rediscall.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "redisconn.h"
#include "timeutil.h"

/* Commands that may wait to be sent; more fail at once. */
#define REDISCALL_QUEUE_MAX 100000
/* Commands written before their replies are read. */
#define REDISCALL_BATCH_MAX 1024
/* Arguments of one command, and their total size. */
#define REDISCALL_ARGS_MAX 1024
#define REDISCALL_BYTES_MAX (4 * 1024 * 1024)
#define REDISCALL_CONNECT_TIMEOUT_MS 1000
#define REDISCALL_BACKOFF_MIN_MS 100
#define REDISCALL_BACKOFF_MAX_MS 2000
/* Idle this long, the connection is checked with PING. */
#define REDISCALL_IDLE_PING_MS 1000
/* The shortest read timeout: a batch due "now" still gets its round trip. */
#define REDISCALL_MIN_WAIT_MS 5

typedef struct RedisCmd
{
	struct RedisCmd *next;
	int64_t		deadline_ms;	/* timeutil_mono_ms() */
	HttpRequest *req;			/* rediscall_submit: resumed when done */
	redisReply *reply;			/* rediscall_submit: kept for complete */
	int64_t		submitted_us;
	RedisCallDone done;			/* rediscall_send */
	void	   *arg;
	int			argc;
	const char **argv;			/* all in this allocation */
	size_t	   *argvlen;
	char	   *bytes;
	size_t		nbytes;
} RedisCmd;

static struct
{
	pthread_mutex_t lock;
	pthread_cond_t wake;
	RedisCmd   *head;
	RedisCmd   *tail;
	int			queued;
	bool		up;
	bool		stopping;
	bool		tick_armed;
	int64_t		tick_due_ms;

	/* set before the thread starts */
	RedisCallTick tick;
	int			tick_ms;
	RedisUrl	url;
	int			timeout_ms;
	pthread_t	thread;
	bool		running;

	/* the Redis thread's own */
	redisContext *ctx;
	int			wait_ms;		/* the read timeout set on ctx; -1: unknown */
	int64_t		backoff_ms;
	int64_t		next_connect_ms;
	int64_t		last_io_ms;
	bool		ever_connected;
	bool		down_logged;
}			rediscall = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static atomic_bool rediscall_is_up;
static atomic_ulong rediscall_commands;
static atomic_ulong rediscall_errors;
static atomic_ulong rediscall_reconnects;
static atomic_int rediscall_queued_now;
static atomic_bool rediscall_tick_wanted;	/* tick_armed, read without the lock */

/* --- commands ---------------------------------------------------------------- */

/* One allocation: the command, its argument table and copies. */
static RedisCmd *
rediscall_cmd_new(int argc, const char **argv, const size_t *argvlen)
{
	RedisCmd   *cmd;
	size_t		total = 0;
	size_t		off = 0;
	char	   *p;
	int			i;

	if (argc < 1 || argc > REDISCALL_ARGS_MAX)
		return NULL;
	for (i = 0; i < argc; i++)
	{
		if (argvlen[i] > REDISCALL_BYTES_MAX - total)
			return NULL;
		total += argvlen[i] + 1;
	}
	p = malloc(sizeof(RedisCmd) + (size_t) argc * (sizeof(size_t) + sizeof(char *)) + total);
	if (p == NULL)
		return NULL;
	cmd = (RedisCmd *) p;
	memset(cmd, 0, sizeof(*cmd));
	cmd->argc = argc;
	cmd->argvlen = (size_t *) (p + sizeof(RedisCmd));
	cmd->argv = (const char **) (p + sizeof(RedisCmd) + (size_t) argc * sizeof(size_t));
	cmd->bytes = p + sizeof(RedisCmd) + (size_t) argc * (sizeof(size_t) + sizeof(char *));
	cmd->nbytes = total;
	for (i = 0; i < argc; i++)
	{
		memcpy(cmd->bytes + off, argv[i], argvlen[i]);
		cmd->bytes[off + argvlen[i]] = '\0';
		cmd->argv[i] = cmd->bytes + off;
		cmd->argvlen[i] = argvlen[i];
		off += argvlen[i] + 1;
	}
	return cmd;
}

/* Arguments may be credentials or keys naming people: wiped. */
static void
rediscall_cmd_free(void *data)
{
	RedisCmd   *cmd = data;

	if (cmd == NULL)
		return;
	if (cmd->reply != NULL)
		freeReplyObject(cmd->reply);
	explicit_bzero(cmd->bytes, cmd->nbytes);
	free(cmd);
}

/*
 * Hands a command its outcome (reply NULL: failed): a request resumes with
 * the reply kept for it; a callback sees the reply, which is then freed.
 * Without the lock; the command is gone afterwards.
 */
static void
rediscall_finish(RedisCmd *cmd, redisReply *reply)
{
	if (reply == NULL)
		atomic_fetch_add(&rediscall_errors, 1);
	if (cmd->req != NULL)
	{
		cmd->reply = reply;
		http_resume(cmd->req);	/* last: the request owns cmd */
		return;
	}
	if (cmd->done != NULL)
		cmd->done(cmd->arg, reply);
	if (reply != NULL)
		freeReplyObject(reply);
	rediscall_cmd_free(cmd);
}

static void
rediscall_fail_list(RedisCmd *cmd)
{
	RedisCmd   *next;

	for (; cmd != NULL; cmd = next)
	{
		next = cmd->next;
		rediscall_finish(cmd, NULL);
	}
}

/* Queues cmd unless Redis is down, the queue full or the edge stopping. */
static bool
rediscall_enqueue(RedisCmd *cmd)
{
	bool		ok;

	cmd->next = NULL;
	pthread_mutex_lock(&rediscall.lock);
	ok = rediscall.up && !rediscall.stopping &&
		rediscall.queued < REDISCALL_QUEUE_MAX;
	if (ok)
	{
		if (rediscall.tail != NULL)
			rediscall.tail->next = cmd;
		else
		{
			rediscall.head = cmd;
			pthread_cond_signal(&rediscall.wake);
		}
		rediscall.tail = cmd;
		rediscall.queued++;
		atomic_store(&rediscall_queued_now, rediscall.queued);
	}
	pthread_mutex_unlock(&rediscall.lock);
	return ok;
}

/* Under the lock: unlinks up to max commands from the queue. */
static RedisCmd *
rediscall_take_locked(int max)
{
	RedisCmd   *first = rediscall.head;
	RedisCmd   *last = first;
	int			n = 1;

	if (first == NULL)
		return NULL;
	while (n < max && last->next != NULL)
	{
		last = last->next;
		n++;
	}
	rediscall.head = last->next;
	if (rediscall.head == NULL)
		rediscall.tail = NULL;
	last->next = NULL;
	rediscall.queued -= n;
	atomic_store(&rediscall_queued_now, rediscall.queued);
	return first;
}

/* --- the connection ---------------------------------------------------------- */

static void
rediscall_set_up(bool up)
{
	pthread_mutex_lock(&rediscall.lock);
	rediscall.up = up;
	atomic_store(&rediscall_is_up, up);
	pthread_mutex_unlock(&rediscall.lock);
}

/* Connects when the back-off allows; true when connected. */
static bool
rediscall_connect(void)
{
	char		err[256];
	int64_t		now = timeutil_mono_ms();

	if (now < rediscall.next_connect_ms)
		return false;
	/*
	 * PING too: a server that is frozen (or a proxy in front of a dead
	 * one) accepts TCP connections, and must not be called up.
	 */
	rediscall.ctx = redisconn_connect(&rediscall.url, now + REDISCALL_CONNECT_TIMEOUT_MS,
									  err, sizeof(err));
	if (rediscall.ctx != NULL &&
		!redisconn_ping(rediscall.ctx, now + REDISCALL_CONNECT_TIMEOUT_MS, err, sizeof(err)))
	{
		redisFree(rediscall.ctx);
		rediscall.ctx = NULL;
	}
	if (rediscall.ctx == NULL)
	{
		atomic_fetch_add(&rediscall_errors, 1);
		/* once per outage at warn; the retries at debug */
		log_write(rediscall.down_logged ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
				  "redis connection failed", "{s:s, s:I}", "error", err,
				  "retry_ms", (json_int_t) rediscall.backoff_ms);
		rediscall.down_logged = true;
		rediscall.next_connect_ms = timeutil_mono_ms() + rediscall.backoff_ms;
		rediscall.backoff_ms *= 2;
		if (rediscall.backoff_ms > REDISCALL_BACKOFF_MAX_MS)
			rediscall.backoff_ms = REDISCALL_BACKOFF_MAX_MS;
		return false;
	}
	if (rediscall.ever_connected)
		atomic_fetch_add(&rediscall_reconnects, 1);
	rediscall.ever_connected = true;
	rediscall.down_logged = false;
	rediscall.backoff_ms = REDISCALL_BACKOFF_MIN_MS;
	rediscall.wait_ms = -1;
	rediscall.last_io_ms = timeutil_mono_ms();
	rediscall_set_up(true);
	log_write(LOG_LEVEL_INFO, "redis connected", NULL);
	return true;
}

/*
 * Drops the connection: Redis is down until the next connect, and
 * everything queued fails now rather than wait for it.
 */
static void
rediscall_drop(const char *why)
{
	RedisCmd   *queued;

	pthread_mutex_lock(&rediscall.lock);
	rediscall.up = false;
	atomic_store(&rediscall_is_up, false);
	queued = rediscall_take_locked(INT32_MAX);
	pthread_mutex_unlock(&rediscall.lock);

	log_write(LOG_LEVEL_WARN, "redis connection lost", "{s:s}", "error", why);
	rediscall.down_logged = true;
	redisFree(rediscall.ctx);
	rediscall.ctx = NULL;
	rediscall.next_connect_ms = timeutil_mono_ms() + rediscall.backoff_ms;
	rediscall_fail_list(queued);
}

/* hiredis's reason, telling a timeout (EAGAIN on SO_RCVTIMEO) apart. */
static void
rediscall_reason(char *why, size_t whylen)
{
	const redisContext *c = rediscall.ctx;

	if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		snprintf(why, whylen, "no reply in time");
	else if (c->err != 0)
		snprintf(why, whylen, "%s", c->errstr);
	else
		snprintf(why, whylen, "unknown error");
}

/* Sets the read (and write) timeout, when it changes. */
static bool
rediscall_set_wait(int wait_ms)
{
	struct timeval tv;

	if (wait_ms == rediscall.wait_ms)
		return true;
	tv.tv_sec = wait_ms / 1000;
	tv.tv_usec = (suseconds_t) (wait_ms % 1000) * 1000;
	if (redisSetTimeout(rediscall.ctx, tv) != REDIS_OK)
		return false;
	rediscall.wait_ms = wait_ms;
	return true;
}

/*
 * Sends a batch and hands out its replies. False when the connection
 * failed; every command of the batch has been finished either way.
 */
static bool
rediscall_run(RedisCmd *batch)
{
	RedisCmd   *sent = NULL;
	RedisCmd  **tail = &sent;
	RedisCmd   *cmd;
	RedisCmd   *next;
	int64_t		now = timeutil_mono_ms();
	int64_t		latest = 0;
	char		why[256];
	void	   *reply;

	for (cmd = batch; cmd != NULL; cmd = next)
	{
		next = cmd->next;
		cmd->next = NULL;
		if (cmd->deadline_ms <= now ||
			redisAppendCommandArgv(rediscall.ctx, cmd->argc, cmd->argv,
								   cmd->argvlen) != REDIS_OK)
		{
			rediscall_finish(cmd, NULL);
			continue;
		}
		if (cmd->deadline_ms > latest)
			latest = cmd->deadline_ms;
		*tail = cmd;
		tail = &cmd->next;
	}
	if (sent == NULL)
		return true;
	if (!rediscall_set_wait(latest - now > REDISCALL_MIN_WAIT_MS ?
							(int) (latest - now) : REDISCALL_MIN_WAIT_MS))
	{
		rediscall_reason(why, sizeof(why));
		rediscall_drop(why);
		rediscall_fail_list(sent);
		return false;
	}
	for (cmd = sent; cmd != NULL; cmd = next)
	{
		next = cmd->next;
		if (redisGetReply(rediscall.ctx, &reply) != REDIS_OK || reply == NULL)
		{
			/* down first: a callback that sends again is refused at once */
			rediscall_reason(why, sizeof(why));
			rediscall_drop(why);
			rediscall_fail_list(cmd);
			return false;
		}
		atomic_fetch_add(&rediscall_commands, 1);
		rediscall_finish(cmd, reply);
	}
	rediscall.last_io_ms = timeutil_mono_ms();
	return true;
}

/* --- the thread ---------------------------------------------------------------- */

/*
 * Sleeps until deadline_ms, a command, the tick's time or a stop; true
 * when stopping.
 */
static bool
rediscall_sleep(int64_t deadline_ms, bool wake_on_command)
{
	struct timespec until;
	int64_t		wake_ms;
	bool		stop;

	pthread_mutex_lock(&rediscall.lock);
	for (;;)
	{
		wake_ms = deadline_ms;
		if (wake_on_command && rediscall.tick_armed && rediscall.tick_due_ms < wake_ms)
			wake_ms = rediscall.tick_due_ms;
		if (rediscall.stopping || timeutil_mono_ms() >= wake_ms ||
			(wake_on_command && rediscall.head != NULL))
			break;
		until.tv_sec = (time_t) (wake_ms / 1000);
		until.tv_nsec = (long) (wake_ms % 1000) * 1000000L;
		(void) pthread_cond_timedwait(&rediscall.wake, &rediscall.lock, &until);
	}
	stop = rediscall.stopping;
	pthread_mutex_unlock(&rediscall.lock);
	return stop;
}

/* Runs the tick if its time has come. */
static void
rediscall_run_tick(void)
{
	bool		due;

	pthread_mutex_lock(&rediscall.lock);
	due = rediscall.tick_armed && timeutil_mono_ms() >= rediscall.tick_due_ms;
	if (due)
	{
		rediscall.tick_armed = false;
		atomic_store(&rediscall_tick_wanted, false);
	}
	pthread_mutex_unlock(&rediscall.lock);
	if (due && rediscall.tick())
		rediscall_tick_soon();
}

static void *
rediscall_main(void *arg)
{
	RedisCmd   *batch;
	char		why[256];
	bool		stopping;

	(void) arg;
	for (;;)
	{
		if (rediscall.ctx == NULL && !rediscall_connect())
		{
			if (rediscall_sleep(rediscall.next_connect_ms, false))
				break;
			continue;
		}
		if (rediscall_sleep(rediscall.last_io_ms + REDISCALL_IDLE_PING_MS, true))
			break;
		rediscall_run_tick();

		pthread_mutex_lock(&rediscall.lock);
		batch = rediscall_take_locked(REDISCALL_BATCH_MAX);
		stopping = rediscall.stopping;
		pthread_mutex_unlock(&rediscall.lock);
		if (stopping)
		{
			rediscall_fail_list(batch);
			break;
		}
		if (batch != NULL)
		{
			(void) rediscall_run(batch);
			continue;
		}
		/* woken for the tick, not for being idle */
		if (timeutil_mono_ms() < rediscall.last_io_ms + REDISCALL_IDLE_PING_MS)
			continue;
		/*
		 * Idle for a while: is the server still there? Within a command's
		 * deadline, as commands queued meanwhile wait for the answer.
		 */
		rediscall.wait_ms = -1;
		if (redisconn_ping(rediscall.ctx, timeutil_mono_ms() + rediscall.timeout_ms,
						   why, sizeof(why)))
			rediscall.last_io_ms = timeutil_mono_ms();
		else
			rediscall_drop(why);
	}

	/* stopping: nothing queued is sent any more */
	pthread_mutex_lock(&rediscall.lock);
	rediscall.up = false;
	atomic_store(&rediscall_is_up, false);
	batch = rediscall_take_locked(INT32_MAX);
	pthread_mutex_unlock(&rediscall.lock);
	rediscall_fail_list(batch);
	if (rediscall.ctx != NULL)
		redisFree(rediscall.ctx);
	rediscall.ctx = NULL;
	return NULL;
}

bool
rediscall_start(const RedisUrl *url, int timeout_ms, char *err, size_t errlen)
{
	pthread_condattr_t attr;
	int			rc;

	rediscall.url = *url;
	rediscall.timeout_ms = timeout_ms;
	rediscall.backoff_ms = REDISCALL_BACKOFF_MIN_MS;
	rediscall.wait_ms = -1;
	if ((rc = pthread_condattr_init(&attr)) != 0 ||
		(rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
		(rc = pthread_cond_init(&rediscall.wake, &attr)) != 0)
	{
		snprintf(err, errlen, "redis: condition variable: %s", strerror(rc));
		return false;
	}
	pthread_condattr_destroy(&attr);
	rc = pthread_create(&rediscall.thread, NULL, rediscall_main, NULL);
	if (rc != 0)
	{
		snprintf(err, errlen, "redis: cannot start its thread: %s", strerror(rc));
		pthread_cond_destroy(&rediscall.wake);
		return false;
	}
	rediscall.running = true;
	return true;
}

void
rediscall_stop(void)
{
	if (!rediscall.running)
		return;
	pthread_mutex_lock(&rediscall.lock);
	rediscall.stopping = true;
	pthread_cond_signal(&rediscall.wake);
	pthread_mutex_unlock(&rediscall.lock);
	pthread_join(rediscall.thread, NULL);
	pthread_cond_destroy(&rediscall.wake);
	rediscall.running = false;
	/* the URL holds the password */
	explicit_bzero(&rediscall.url, sizeof(rediscall.url));
}

/* --- the API ------------------------------------------------------------------- */

bool
rediscall_submit(HttpRequest *req, int argc, const char **argv,
				 const size_t *argvlen, int timeout_ms, HttpHandler complete)
{
	RedisCmd   *cmd = rediscall_cmd_new(argc, argv, argvlen);

	if (cmd == NULL)
		return false;
	http_set_call(req, cmd, rediscall_cmd_free);
	cmd->req = req;
	cmd->deadline_ms = timeutil_mono_ms() + timeout_ms;
	cmd->submitted_us = timeutil_mono_us();
	/* suspended first, so that the resume can never come before it */
	http_suspend(req, complete);
	if (!rediscall_enqueue(cmd))
	{
		atomic_fetch_add(&rediscall_errors, 1);
		http_resume(req);
	}
	return true;
}

/* Also records the time spent on Redis, for Server-Timing. */
const redisReply *
rediscall_result(HttpRequest *req)
{
	RedisCmd   *cmd = http_call(req);

	if (cmd == NULL)
		return NULL;
	if (cmd->submitted_us != 0)
	{
		http_add_timing(req, "redis", (double) (timeutil_mono_us() - cmd->submitted_us) / 1000.0);
		cmd->submitted_us = 0;
	}
	return cmd->reply;
}

bool
rediscall_send(int argc, const char **argv, const size_t *argvlen,
			   RedisCallDone done, void *arg)
{
	RedisCmd   *cmd = rediscall_cmd_new(argc, argv, argvlen);

	if (cmd == NULL)
		return false;
	cmd->done = done;
	cmd->arg = arg;
	cmd->deadline_ms = timeutil_mono_ms() + rediscall.timeout_ms;
	if (!rediscall_enqueue(cmd))
	{
		atomic_fetch_add(&rediscall_errors, 1);
		rediscall_cmd_free(cmd);
		return false;
	}
	return true;
}

void
rediscall_set_tick(RedisCallTick tick, int interval_ms)
{
	rediscall.tick = tick;
	rediscall.tick_ms = interval_ms;
}

void
rediscall_tick_soon(void)
{
	if (rediscall.tick == NULL || atomic_load(&rediscall_tick_wanted))
		return;
	pthread_mutex_lock(&rediscall.lock);
	if (!rediscall.tick_armed)
	{
		rediscall.tick_armed = true;
		rediscall.tick_due_ms = timeutil_mono_ms() + rediscall.tick_ms;
		atomic_store(&rediscall_tick_wanted, true);
		pthread_cond_signal(&rediscall.wake);
	}
	pthread_mutex_unlock(&rediscall.lock);
}

bool
rediscall_up(void)
{
	return atomic_load(&rediscall_is_up);
}

void
rediscall_stats(RedisCallStats *stats)
{
	stats->commands = atomic_load(&rediscall_commands);
	stats->errors = atomic_load(&rediscall_errors);
	stats->reconnects = atomic_load(&rediscall_reconnects);
	stats->queued = atomic_load(&rediscall_queued_now);
	stats->up = atomic_load(&rediscall_is_up);
}
