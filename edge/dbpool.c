/*
 * dbpool.c
 *		A pool of the edge's PostgreSQL connections, each nonblocking and in
 *		pipeline mode, split into shards: each shard's connections are driven
 *		by one event loop, taking jobs from the shard's queue.
 *
 * Who drives a shard. Each pool (the primary's, each read replica's) has
 * one shard per HTTP worker thread (at most one per connection), and each
 * worker's loop drives its own of every pool (dbpool_attach,
 * dbpool_shard_prepare/dispatch between its waits): a /v1/rpc call is then
 * parsed, sent to PostgreSQL, read back and answered on one thread, with
 * no handoff to another thread and back. Before, one thread per pool drove
 * its connections: each call cost two cross-thread wakeups (the worker
 * waking the pool, the pool waking the worker) and the scheduler's work
 * between them, most of what the pool thread spent. Nothing on a loop
 * waits on a server: a replica that hangs or whose host name does not
 * resolve (pgstart.c) holds up only its own calls.
 *
 * Why one loop per shard rather than a thread per connection: a job is a
 * few statements, little work for the edge, and with a thread per
 * connection a busy edge spent more CPU handing jobs over than on the
 * jobs. The loop polls every connection's socket and an eventfd: it sends
 * as soon as a connection is free and reads as soon as one has results,
 * without waiting on either. dbpool_submit from the shard's own loop just
 * links the job into the queue (the loop sends it before it next waits);
 * from any other thread it picks a shard in turn and writes the shard's
 * eventfd when no wakeup is pending.
 *
 * A free connection takes the jobs waiting, up to DBPOOL_BATCH_MAX, and
 * sends them in one pipeline, each its own transaction: alone, closed by
 * its own Sync, or, two or more at once, as a chained run: explicit
 * transactions and a last job that the run's one Sync commits
 * (pgconn_pipe_send, PgPipelineJob), a run the server answers in one
 * write instead of one per job; each job ends as soon as its results are
 * read. An idle edge thus sends a job at once with no wait for company,
 * and a busy one sends the jobs that queued meanwhile in one round trip. A job the server skipped because one before it in its
 * run failed goes back to the front of the queue, to be sent alone.
 *
 * Connections open lazily, for the jobs that found no free connection, and
 * without blocking the loop: PQconnectStart/PQconnectPoll on the same
 * poll, or, when the server is named by a host name (whose resolution
 * blocks), on a thread of pgstart.c's, which hands the connection back.
 * When a connection cannot be made, its jobs go once to another shard that
 * has one open (dbpool_connect_lost).
 *
 * Bounds: at most queue_max jobs wait in the pool (more are refused, 503);
 * a job still waiting at its deadline ends without a connection (503); a
 * connection whose jobs (connecting, or running) pass the earliest of their
 * deadlines is dropped, and every job on it ends without it (503), as on a
 * connection that breaks; statement_timeout bounds every statement on the
 * server's side. The loop's wait ends at the earliest deadline.
 *
 * Locking, per shard: its lock guards the submitted queue, signalled,
 * accepting, stopping, stopped and attached; the loop moves the submitted
 * jobs to a queue of its own in one step. The pool's counters are atomic.
 * Everything else is the shard's loop's.
 */
#include "dbpool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "pgconn.h"
#include "pgstart.h"
#include "timeutil.h"

/* Jobs one connection takes in one round trip at most. */
#define DBPOOL_BATCH_MAX 16

typedef struct DbConn
{
	PgPipe		pipe;			/* pipe.conn: NULL until connected */
	PGconn	   *connecting;		/* being made, for the jobs below */
	PostgresPollingStatusType connect_state;
	bool		flushing;		/* libpq holds output the socket refused */
	bool		starting;		/* being made by pgstart, for the jobs below */
	unsigned	gen;			/* a start's result for an older one is stale */
	DbJob	   *head;			/* its jobs, oldest (next to read) first */
	DbJob	   *tail;
} DbConn;

/* A connection made by pgstart, on its way back to the shard. */
typedef struct DbStarted
{
	DbShard    *shard;
	int			conn;			/* index in shard->conns */
	unsigned	gen;
	PGconn	   *pgconn;			/* NULL: failed, err says why */
	char		err[256];
	struct DbStarted *next;
} DbStarted;

struct DbShard
{
	DbPool	   *pool;
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* stopped or attached changed */
	DbJob	   *head;			/* submitted, under lock */
	DbJob	   *tail;
	DbStarted  *started;		/* made by pgstart, under lock */
	bool		signalled;		/* the eventfd is written, not yet read */
	bool		accepting;		/* takes jobs: started, not stopping */
	bool		stopping;
	bool		stopped;		/* stopping, and nothing left to run */
	bool		attached;		/* a loop drives it */
	int			efd;
	atomic_int	live;			/* connections made and open */

	/* the loop's own */
	char		logged[256];	/* the last connection failure logged */
	int64_t		logged_ms;
	DbConn	   *conns;
	int			size;
	DbJob	   *qhead;			/* waiting for a connection */
	DbJob	   *qtail;
	int64_t		qmin;			/* no deadline there is earlier */
	struct pollfd *pfds;		/* dbpool_stop's, for a shard no loop drives */
	DbConn	  **pfd_conns;		/* by pfds index; 0 is the eventfd */
};

struct DbPool
{
	char		name[32];		/* for the log: "primary", "replica-1" */
	char	   *conninfo;
	int			queue_max;
	atomic_int	queued;
	atomic_int	running;
	atomic_ulong batched;
	atomic_uint next;			/* the shard a foreign job goes to next */
	bool		resolve;		/* connect through pgstart: a host name */
	bool		starts_made;	/* starts initialized */
	PgStarts	starts;
	int			nshards;
	DbShard    *shards;
};

/*
 * The index of the loop this thread runs, if any: loop i drives shard i of
 * every pool (dbpool_attach).
 */
static __thread int dbpool_loop = -1;

/* Wakes the shard's loop: an eventfd write, unless one is pending already. */
static void
dbpool_wake(DbShard *s, bool wake)
{
	uint64_t	one = 1;

	/* fails only when the counter is full: a wakeup is pending then */
	if (wake && write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_write(LOG_LEVEL_ERROR, "database pool wakeup failed", "{s:s, s:s}",
				  "pool", s->pool->name, "error", strerror(errno));
}

/* A job that cannot run ends here, without a connection. */
static void
dbpool_fail(DbShard *s, DbJob *job, const char *err)
{
	atomic_fetch_sub(&s->pool->running, 1);
	(void) job->done(job, NULL, err);
}

/* Closes a connection that was made. */
static void
dbpool_close(DbShard *s, DbConn *c)
{
	pgconn_pipe_close(&c->pipe);
	atomic_fetch_sub(&s->live, 1);
}

/*
 * Drops the connection (made or being made) and ends every job on it
 * without one.
 */
static void
dbpool_drop(DbShard *s, DbConn *c, const char *err)
{
	DbJob	   *job;

	if (c->connecting != NULL)
	{
		PQfinish(c->connecting);
		c->connecting = NULL;
	}
	if (c->pipe.conn != NULL)
		dbpool_close(s, c);
	if (c->starting)
	{
		c->starting = false;
		c->gen++;
	}
	c->flushing = false;
	while ((job = c->head) != NULL)
	{
		c->head = job->next;
		pgconn_pipe_forget(&job->pipe);
		dbpool_fail(s, job, err);
	}
	c->tail = NULL;
}

/*
 * A connection could not be made: logged with the pool's name, the same
 * failure once every 10 s at most, since every job waiting makes an attempt
 * and a server that is down refuses them all.
 */
static void
dbpool_connect_failed(DbShard *s, const char *err)
{
	int64_t		now = timeutil_mono_ms();

	if (strcmp(err, s->logged) == 0 && now - s->logged_ms < 10000)
		return;
	snprintf(s->logged, sizeof(s->logged), "%s", err);
	s->logged_ms = now;
	log_write(LOG_LEVEL_WARN, "database connection failed", "{s:s, s:s}",
			  "pool", s->pool->name, "error", err);
}

/* Another shard of s's pool with a connection made and open, or NULL. */
static DbShard *
dbpool_live_shard(DbShard *s)
{
	DbPool	   *p = s->pool;
	int			self = (int) (s - p->shards);

	for (int i = 1; i < p->nshards; i++)
	{
		DbShard    *o = &p->shards[(self + i) % p->nshards];

		if (atomic_load(&o->live) > 0)
			return o;
	}
	return NULL;
}

/*
 * Queues n jobs that ran nowhere (head to tail, linked) in shard to, from
 * another shard's loop, as dbpool_submit would; false when to takes no
 * more.
 */
static bool
dbpool_hand(DbShard *to, DbJob *head, DbJob *tail, int n)
{
	bool		wake;

	pthread_mutex_lock(&to->lock);
	if (!to->accepting)
	{
		pthread_mutex_unlock(&to->lock);
		return false;
	}
	if (to->tail != NULL)
		to->tail->next = head;
	else
		to->head = head;
	to->tail = tail;
	atomic_fetch_sub(&to->pool->running, n);
	atomic_fetch_add(&to->pool->queued, n);
	wake = !to->signalled;
	to->signalled = true;
	pthread_mutex_unlock(&to->lock);
	dbpool_wake(to, wake);
	return true;
}

/*
 * A connection could not be made (refused, its authentication or TLS
 * verification failed, the server is full): its jobs go to another shard
 * of the pool that has a connection open, once each, and end without one
 * when there is none. Each worker's shard opens its own connections as
 * its calls need them, so without this, while new connections fail, a
 * worker that has none would fail every call it takes while the other
 * workers' connections still serve theirs.
 */
static void
dbpool_connect_lost(DbShard *s, DbConn *c, const char *err)
{
	DbShard    *to = dbpool_live_shard(s);
	DbJob	   *handed = NULL;
	DbJob	   *handed_tail = NULL;
	DbJob	  **link = &c->head;
	DbJob	   *job;
	int			n = 0;

	dbpool_connect_failed(s, err);
	c->tail = NULL;
	while ((job = *link) != NULL)
	{
		if (to == NULL || job->handed)
		{
			c->tail = job;
			link = &job->next;
			continue;
		}
		*link = job->next;
		job->next = NULL;
		job->handed = true;
		if (handed_tail != NULL)
			handed_tail->next = job;
		else
			handed = job;
		handed_tail = job;
		n++;
	}
	dbpool_drop(s, c, err);
	if (handed != NULL && !dbpool_hand(to, handed, handed_tail, n))
		while ((job = handed) != NULL)
		{
			handed = job->next;
			dbpool_fail(s, job, err);
		}
}

/*
 * Orders the connection's jobs for sending: first those that go alone, with
 * a Sync each (a split job, a job skipped in a run before), then the others
 * as one chained run when there are two or more (see PgPipelineJob). The
 * run goes last because a failure in it leaves the connection in an aborted
 * transaction block until the next send's ROLLBACK; the jobs came at once,
 * and none waits for another, so their order is free. Returns the number
 * of Syncs.
 */
static int
dbpool_order(DbConn *c)
{
	DbJob	   *alone = NULL;
	DbJob	  **alone_end = &alone;
	DbJob	   *run = NULL;
	DbJob	  **run_end = &run;
	int			nalone = 0;
	int			nrun = 0;

	for (DbJob *job = c->head, *next; job != NULL; job = next)
	{
		next = job->next;
		job->next = NULL;
		job->pipe.chain = !job->alone && !(job->pipe.split > 0 && job->pipe.split < job->pipe.n);
		job->pipe.last = false;
		if (job->pipe.chain)
		{
			*run_end = job;
			run_end = &job->next;
			nrun++;
		}
		else
		{
			*alone_end = job;
			alone_end = &job->next;
			nalone++;
		}
	}
	*alone_end = run;
	c->head = alone;
	c->tail = NULL;
	for (DbJob *job = c->head; job != NULL; job = job->next)
	{
		if (nrun < 2)
			job->pipe.chain = false;
		job->pipe.last = job->pipe.chain && job->next == NULL;
		c->tail = job;
	}
	return nalone + (nrun >= 2 ? 1 : nrun);
}

/* Sends the connection's jobs, and as much of them as the socket takes. */
static void
dbpool_send(DbShard *s, DbConn *c)
{
	char		err[256];
	int			n = 0;
	int			rc;
	bool		cork = dbpool_order(c) > 1;

	/* libpq flushes at every Sync: leave together */
	if (cork)
		pgconn_pipe_cork(&c->pipe, true);
	for (DbJob *job = c->head; job != NULL; job = job->next, n++)
		if (!pgconn_pipe_send(&c->pipe, &job->pipe, err, sizeof(err)))
		{
			dbpool_drop(s, c, err);
			return;
		}
	if (n > 1)
		atomic_fetch_add(&s->pool->batched, (unsigned long) n);
	rc = pgconn_pipe_flush(&c->pipe, err, sizeof(err));
	if (cork)
		pgconn_pipe_cork(&c->pipe, false);
	if (rc < 0)
		dbpool_drop(s, c, err);
	c->flushing = rc == 1;
}

/* A connection made: into pipeline mode, and its jobs sent. */
static void
dbpool_connected(DbShard *s, DbConn *c)
{
	PGconn	   *conn = c->connecting;
	char		err[256];

	c->connecting = NULL;
	if (!pgconn_connect_ready(conn, err, sizeof(err)) ||
		!pgconn_pipe_open(&c->pipe, conn, err, sizeof(err)))
	{
		PQfinish(conn);
		dbpool_connect_lost(s, c, err);
		return;
	}
	atomic_fetch_add(&s->live, 1);
	s->logged[0] = '\0';		/* the next failure is news again */
	dbpool_send(s, c);
}

/* One step of making the connection, when its socket is ready. */
static void
dbpool_connect_step(DbShard *s, DbConn *c)
{
	char		err[256];

	c->connect_state = PQconnectPoll(c->connecting);
	if (c->connect_state == PGRES_POLLING_OK)
		dbpool_connected(s, c);
	else if (c->connect_state == PGRES_POLLING_FAILED)
	{
		snprintf(err, sizeof(err), "connect: %.*s",
				 (int) strcspn(PQerrorMessage(c->connecting), "\n"),
				 PQerrorMessage(c->connecting));
		dbpool_connect_lost(s, c, err);
	}
}

/* On pgstart's thread: the connection goes back to its shard's loop. */
static void
dbpool_started(void *arg, PGconn *conn, const char *err)
{
	DbStarted  *st = arg;
	DbShard    *s = st->shard;
	bool		wake;

	st->pgconn = conn;
	snprintf(st->err, sizeof(st->err), "%s", err);
	pthread_mutex_lock(&s->lock);
	st->next = s->started;
	s->started = st;
	wake = !s->signalled;
	s->signalled = true;
	pthread_mutex_unlock(&s->lock);
	dbpool_wake(s, wake);
}

/* Has pgstart make the connection, for its jobs, within their deadline. */
static void
dbpool_start_conn(DbShard *s, DbConn *c)
{
	DbStarted  *st = calloc(1, sizeof(*st));
	int64_t		deadline = INT64_MAX;
	char		err[256];

	for (DbJob *job = c->head; job != NULL; job = job->next)
		if (job->deadline_ms < deadline)
			deadline = job->deadline_ms;
	if (st == NULL)
	{
		dbpool_drop(s, c, "connect: out of memory");
		return;
	}
	st->shard = s;
	st->conn = (int) (c - s->conns);
	st->gen = ++c->gen;
	if (!pgstart_begin(&s->pool->starts, s->pool->conninfo, deadline,
					   dbpool_started, st, err, sizeof(err)))
	{
		free(st);
		dbpool_connect_lost(s, c, err);
		return;
	}
	c->starting = true;
}

/* The connections pgstart made: to the jobs still waiting for them. */
static void
dbpool_take_started(DbShard *s, DbStarted *st)
{
	while (st != NULL)
	{
		DbStarted  *next = st->next;
		DbConn	   *c = &s->conns[st->conn];

		if (!c->starting || c->gen != st->gen)
		{
			/* its jobs gave up (deadline) or the shard stopped meanwhile */
			if (st->pgconn != NULL)
				PQfinish(st->pgconn);
		}
		else if (st->pgconn == NULL)
		{
			c->starting = false;
			dbpool_connect_lost(s, c, st->err);
		}
		else
		{
			c->starting = false;
			c->connecting = st->pgconn;
			dbpool_connected(s, c);
		}
		free(st);
		st = next;
	}
}

/* The loop's queue gets what was submitted; true when stopping. */
static bool
dbpool_steal(DbShard *s)
{
	DbJob	   *head;
	DbJob	   *tail;
	bool		stopping;

	DbStarted  *started;

	pthread_mutex_lock(&s->lock);
	head = s->head;
	tail = s->tail;
	s->head = s->tail = NULL;
	started = s->started;
	s->started = NULL;
	s->signalled = false;
	stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	dbpool_take_started(s, started);
	if (head == NULL)
		return stopping;
	for (DbJob *job = head; job != NULL; job = job->next)
		if (job->deadline_ms < s->qmin)
			s->qmin = job->deadline_ms;
	if (s->qtail != NULL)
		s->qtail->next = head;
	else
		s->qhead = head;
	s->qtail = tail;
	return stopping;
}

/* Ends the waiting jobs whose time is up, or all when stopping. */
static void
dbpool_expire(DbShard *s, int64_t now, bool stopping)
{
	DbJob	  **link = &s->qhead;
	DbJob	   *job;

	if (now < s->qmin && !stopping)
		return;
	s->qmin = INT64_MAX;
	s->qtail = NULL;
	while ((job = *link) != NULL)
	{
		if (stopping || now >= job->deadline_ms)
		{
			*link = job->next;
			atomic_fetch_sub(&s->pool->queued, 1);
			atomic_fetch_add(&s->pool->running, 1);
			dbpool_fail(s, job, stopping ? "shutting down" :
						"waited too long for a database connection");
			continue;
		}
		if (job->deadline_ms < s->qmin)
			s->qmin = job->deadline_ms;
		s->qtail = job;
		link = &job->next;
	}
}

/* A connection with no jobs: a live one first, else one to make. */
static DbConn *
dbpool_free_conn(DbShard *s)
{
	DbConn	   *down = NULL;

	for (int i = 0; i < s->size; i++)
	{
		DbConn	   *c = &s->conns[i];

		if (c->head != NULL || c->connecting != NULL)
			continue;
		if (c->pipe.conn != NULL)
			return c;
		if (down == NULL)
			down = c;
	}
	return down;
}

/* Hands the waiting jobs to free connections. */
static void
dbpool_assign(DbShard *s)
{
	DbConn	   *c;
	char		err[256];
	int			n;

	while (s->qhead != NULL && (c = dbpool_free_conn(s)) != NULL)
	{
		c->head = s->qhead;
		for (n = 1; n < DBPOOL_BATCH_MAX && s->qhead->next != NULL; n++)
			s->qhead = s->qhead->next;
		c->tail = s->qhead;
		s->qhead = s->qhead->next;
		c->tail->next = NULL;
		if (s->qhead == NULL)
		{
			s->qtail = NULL;
			s->qmin = INT64_MAX;
		}
		atomic_fetch_sub(&s->pool->queued, n);
		atomic_fetch_add(&s->pool->running, n);

		/* a connection the server closed since its last jobs */
		if (c->pipe.conn != NULL && PQstatus(c->pipe.conn) != CONNECTION_OK)
			dbpool_close(s, c);
		if (c->pipe.conn != NULL)
		{
			dbpool_send(s, c);
			continue;
		}
		if (s->pool->resolve)
		{
			dbpool_start_conn(s, c);
			continue;
		}
		c->connecting = pgconn_connect_start(s->pool->conninfo, err, sizeof(err));
		if (c->connecting == NULL)
			dbpool_connect_lost(s, c, err);
		else
			c->connect_state = PGRES_POLLING_WRITING;
	}
}

/*
 * A chained job the server skipped (see PgPipelineJob): back to the front
 * of the queue, after the ones skipped before it in the same run, to go
 * alone this time; its deadline stands. None of it ran, so sending it
 * again runs it once.
 */
static void
dbpool_retry(DbShard *s, DbJob *job, DbJob **after)
{
	pgconn_pipe_forget(&job->pipe);
	job->alone = true;
	if (*after == NULL)
	{
		job->next = s->qhead;
		s->qhead = job;
	}
	else
	{
		job->next = (*after)->next;
		(*after)->next = job;
	}
	if (job->next == NULL)
		s->qtail = job;
	*after = job;
	if (job->deadline_ms < s->qmin)
		s->qmin = job->deadline_ms;
	atomic_fetch_sub(&s->pool->running, 1);
	atomic_fetch_add(&s->pool->queued, 1);
}

/* The connection's socket is ready: read results, end the jobs they finish. */
static void
dbpool_io(DbShard *s, DbConn *c, short revents)
{
	char		err[256];
	DbJob	   *job;
	DbJob	   *retried = NULL;
	int			rc;

	if (c->connecting != NULL)
	{
		dbpool_connect_step(s, c);
		return;
	}
	if (c->pipe.conn == NULL)
		return;
	if ((revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) &&
		!pgconn_pipe_consume(&c->pipe, err, sizeof(err)))
	{
		dbpool_drop(s, c, err);
		return;
	}
	if (c->head == NULL)
	{
		/* an idle connection speaks only to say it is closing */
		if (PQstatus(c->pipe.conn) != CONNECTION_OK)
			dbpool_close(s, c);
		return;
	}
	if (c->flushing)
	{
		rc = pgconn_pipe_flush(&c->pipe, err, sizeof(err));
		if (rc < 0)
		{
			dbpool_drop(s, c, err);
			return;
		}
		c->flushing = rc == 1;
	}
	while ((job = c->head) != NULL)
	{
		rc = pgconn_pipe_read(&c->pipe, &job->pipe, err, sizeof(err));
		if (rc == 0)
			return;
		if (rc < 0)
		{
			dbpool_drop(s, c, err);
			return;
		}
		c->head = job->next;
		if (c->head == NULL)
			c->tail = NULL;
		if (!pgconn_pipe_ran(&job->pipe))
		{
			dbpool_retry(s, job, &retried);
			continue;
		}
		atomic_fetch_sub(&s->pool->running, 1);
		if (!job->done(job, c->pipe.conn, NULL))
		{
			dbpool_drop(s, c, "the connection broke");
			return;
		}
	}
}

/* Drops the connections whose jobs ran out of time; the earliest deadline left. */
static int64_t
dbpool_timeouts(DbShard *s, int64_t now)
{
	int64_t		next = s->qmin;

	for (int i = 0; i < s->size; i++)
	{
		DbConn	   *c = &s->conns[i];
		int64_t		deadline = INT64_MAX;

		for (DbJob *job = c->head; job != NULL; job = job->next)
			if (job->deadline_ms < deadline)
				deadline = job->deadline_ms;
		if (deadline == INT64_MAX)
			continue;
		if (now >= deadline)
			dbpool_drop(s, c, c->connecting != NULL || c->starting ?
						"connect: timed out" : "query: timed out");
		else if (deadline < next)
			next = deadline;
	}
	return next;
}

static bool
dbpool_idle(const DbShard *s)
{
	if (s->qhead != NULL)
		return false;
	for (int i = 0; i < s->size; i++)
		if (s->conns[i].head != NULL)
			return false;
	return true;
}

/*
 * Marks the shard stopped once stopping and idle: the loop has nothing
 * left to run, and dbpool_stop may close it.
 */
static bool
dbpool_check_stopped(DbShard *s, bool stopping)
{
	if (!stopping || !dbpool_idle(s))
		return false;
	pthread_mutex_lock(&s->lock);
	s->stopped = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	return true;
}

int
dbpool_shard_fds(const DbShard *s)
{
	return s->size + 1;
}

int
dbpool_shard_prepare(DbShard *s, struct pollfd *pfds, int *timeout_ms)
{
	int64_t		now = timeutil_mono_ms();
	int64_t		next;
	bool		stopping;
	int			nfds;

	if (s->stopped)
		return 0;
	stopping = dbpool_steal(s);
	dbpool_expire(s, now, stopping);
	(void) dbpool_timeouts(s, now);
	dbpool_assign(s);
	if (dbpool_check_stopped(s, stopping))
		return 0;

	next = dbpool_timeouts(s, now);
	pfds[0] = (struct pollfd) {s->efd, POLLIN, 0};
	nfds = 1;
	for (int i = 0; i < s->size; i++)
	{
		DbConn	   *c = &s->conns[i];
		PGconn	   *conn = c->connecting != NULL ? c->connecting : c->pipe.conn;
		short		events = POLLIN;

		if (conn == NULL || PQsocket(conn) < 0)
			continue;
		if (c->connecting != NULL)
			events = c->connect_state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		else if (c->flushing)
			events |= POLLOUT;
		pfds[nfds] = (struct pollfd) {PQsocket(conn), events, 0};
		s->pfd_conns[nfds++] = c;
	}
	if (next != INT64_MAX)
	{
		now = timeutil_mono_ms();
		if (next <= now)
			*timeout_ms = 0;
		else if (*timeout_ms < 0 || next - now < *timeout_ms)
			*timeout_ms = (int) (next - now);
	}
	return nfds;
}

void
dbpool_shard_dispatch(DbShard *s, const struct pollfd *pfds, int n)
{
	uint64_t	count;

	if (n > 0 && pfds[0].revents != 0)
	{
		/* nonblocking: empty only when a wakeup raced this read */
		if (read(s->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			log_write(LOG_LEVEL_ERROR, "database pool wakeup failed", "{s:s, s:s}",
					  "pool", s->pool->name, "error", strerror(errno));
	}
	for (int i = 1; i < n; i++)
		if (pfds[i].revents != 0)
			dbpool_io(s, s->pfd_conns[i], pfds[i].revents);
}

DbShard *
dbpool_attach(DbPool *p, int index)
{
	DbShard    *s;

	if (p == NULL || index < 0 || index >= p->nshards)
		return NULL;
	s = &p->shards[index];
	pthread_mutex_lock(&s->lock);
	s->attached = true;
	pthread_mutex_unlock(&s->lock);
	dbpool_loop = index;
	return s;
}

void
dbpool_detach(DbShard *s)
{
	if (s == NULL)
		return;
	dbpool_loop = -1;
	pthread_mutex_lock(&s->lock);
	s->attached = false;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

/* Closes what dbpool_start opened for the shard; nothing drives it now. */
static void
dbpool_shard_close(DbShard *s)
{
	for (int i = 0; i < s->size && s->conns != NULL; i++)
		dbpool_drop(s, &s->conns[i], "shutting down");
	/* made after their jobs gave up: stale now */
	dbpool_take_started(s, s->started);
	s->started = NULL;
	free(s->conns);
	s->conns = NULL;
	s->size = 0;
	free(s->pfds);
	s->pfds = NULL;
	free(s->pfd_conns);
	s->pfd_conns = NULL;
	if (s->efd >= 0)
		close(s->efd);
	s->efd = -1;
}

void
dbpool_free(DbPool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nshards; i++)
	{
		dbpool_shard_close(&p->shards[i]);
		pthread_cond_destroy(&p->shards[i].changed);
		pthread_mutex_destroy(&p->shards[i].lock);
	}
	free(p->shards);
	free(p->conninfo);
	if (p->starts_made)
		pgstart_destroy(&p->starts);
	free(p);
}

/*
 * Gives the shard (its lock made by the caller) size connections; false
 * when out of resources.
 */
static bool
dbpool_shard_init(DbShard *s, int size, char *err, size_t errlen)
{
	s->conns = calloc((size_t) size, sizeof(DbConn));
	s->pfds = calloc((size_t) size + 1, sizeof(struct pollfd));
	s->pfd_conns = calloc((size_t) size + 1, sizeof(DbConn *));
	s->size = size;
	if (s->conns == NULL || s->pfds == NULL || s->pfd_conns == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0)
	{
		snprintf(err, errlen, "could not make the database pool's eventfd: %s",
				 strerror(errno));
		return false;
	}
	s->accepting = true;
	return true;
}

DbPool *
dbpool_start(const char *name, const char *conninfo, int size, int queue_max,
			 int statement_timeout_ms, int shards, char *err, size_t errlen)
{
	DbPool	   *p = calloc(1, sizeof(*p));
	size_t		len;
	int			made = 0;

	if (p == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->queue_max = queue_max;
	p->resolve = pgstart_needed(conninfo);
	if (!pgstart_init(&p->starts))
	{
		snprintf(err, errlen, "database pool %s: mutex", name);
		free(p);
		return NULL;
	}
	p->starts_made = true;
	/* a shard has a connection at least */
	p->nshards = shards > size ? size : shards;
	if (p->nshards < 1)
		p->nshards = 1;

	/*
	 * statement_timeout rides in the connection's options, so it holds
	 * from the first statement; a conninfo URL and key=value strings both
	 * accept a trailing "options" keyword, but not both syntaxes at once:
	 * PQconninfoParse has no way to add to a URL, hence the explicit form.
	 */
	len = strlen(conninfo) + 96;
	p->conninfo = malloc(len);
	p->shards = calloc((size_t) p->nshards, sizeof(DbShard));
	if (p->conninfo == NULL || p->shards == NULL)
	{
		snprintf(err, errlen, "out of memory");
		p->nshards = 0;
		dbpool_free(p);
		return NULL;
	}
	if (strncmp(conninfo, "postgres://", 11) == 0 ||
		strncmp(conninfo, "postgresql://", 13) == 0)
		snprintf(p->conninfo, len, "%s%soptions=-cstatement_timeout%%3D%d",
				 conninfo, strchr(conninfo, '?') ? "&" : "?",
				 statement_timeout_ms);
	else
		snprintf(p->conninfo, len, "%s options='-cstatement_timeout=%d'",
				 conninfo, statement_timeout_ms);
	shards = p->nshards;
	p->nshards = 0;
	for (int i = 0; i < shards; i++)
	{
		DbShard    *s = &p->shards[i];

		s->pool = p;
		s->efd = -1;
		s->qmin = INT64_MAX;
		if (pthread_mutex_init(&s->lock, NULL) != 0)
		{
			snprintf(err, errlen, "database pool %s: mutex", name);
			break;
		}
		if (pthread_cond_init(&s->changed, NULL) != 0)
		{
			pthread_mutex_destroy(&s->lock);
			snprintf(err, errlen, "database pool %s: condition variable", name);
			break;
		}
		p->nshards = i + 1;
		if (!dbpool_shard_init(s, size / shards + (i < size % shards),
							   err, errlen))
			break;
		made++;
	}
	if (made < shards)
	{
		dbpool_stop(p);
		dbpool_free(p);
		return NULL;
	}
	return p;
}

bool
dbpool_submit(DbPool *p, DbJob *job)
{
	DbShard    *s;
	bool		ok;
	bool		wake = false;

	/* the caller's own shard needs no wakeup: its loop sends before it waits */
	if (dbpool_loop >= 0 && dbpool_loop < p->nshards)
		s = &p->shards[dbpool_loop];
	else
	{
		s = &p->shards[p->nshards == 1 ? 0 :
					   atomic_fetch_add(&p->next, 1) % (unsigned) p->nshards];
		wake = true;
	}
	job->next = NULL;
	job->alone = false;
	job->handed = false;
	pthread_mutex_lock(&s->lock);
	ok = s->accepting && atomic_load(&p->queued) < p->queue_max;
	if (ok)
	{
		if (s->tail != NULL)
			s->tail->next = job;
		else
			s->head = job;
		s->tail = job;
		atomic_fetch_add(&p->queued, 1);
		wake = wake && !s->signalled;
		if (wake)
			s->signalled = true;
	}
	pthread_mutex_unlock(&s->lock);
	dbpool_wake(s, ok && wake);
	return ok;
}

int
dbpool_waiting(DbPool *p)
{
	return atomic_load(&p->queued);
}

int
dbpool_busy(DbPool *p)
{
	return atomic_load(&p->running);
}

unsigned long
dbpool_batched_total(DbPool *p)
{
	return atomic_load(&p->batched);
}

const char *
dbpool_name(const DbPool *p)
{
	return p->name;
}

/*
 * Stops each shard: its loop ends the queued jobs and waits for the running
 * ones. A shard no loop drives (its thread never started, or the caller's
 * loop detached) is run to the end here.
 */
void
dbpool_stop(DbPool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nshards; i++)
	{
		DbShard    *s = &p->shards[i];

		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		s->accepting = false;
		pthread_mutex_unlock(&s->lock);
		if (s->efd >= 0)
			dbpool_wake(s, true);
	}
	for (int i = 0; i < p->nshards; i++)
	{
		DbShard    *s = &p->shards[i];

		pthread_mutex_lock(&s->lock);
		while (s->attached && !s->stopped)
			pthread_cond_wait(&s->changed, &s->lock);
		pthread_mutex_unlock(&s->lock);
		if (s->efd >= 0)
			while (!s->stopped)
			{
				int			timeout = 1000;
				int			n = dbpool_shard_prepare(s, s->pfds, &timeout);

				if (s->stopped)
					break;
				if (poll(s->pfds, (nfds_t) n, timeout) >= 0)
					dbpool_shard_dispatch(s, s->pfds, n);
			}
	}
	/* a start stuck resolving may still hand a connection to a shard */
	if (p->starts_made)
		pgstart_wait(&p->starts);
	for (int i = 0; i < p->nshards; i++)
		dbpool_shard_close(&p->shards[i]);
}
