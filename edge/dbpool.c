/*
 * dbpool.c
 *		A pool of the edge's PostgreSQL connections: one thread drives them
 *		all, each nonblocking and in pipeline mode, taking jobs from one
 *		queue.
 *
 * The edge has one pool for the primary and one per read replica
 * (WARDEN_DATABASE_READ_URL), each a DbPool with a thread of its own. Why
 * a thread per pool rather than one loop for every pool: the pools share
 * nothing (connections, queues, deadlines are each pool's), so one loop
 * would only add a dispatch by pool to every step; a loop blocks where
 * libpq does (a host name resolved by PQconnectStart, see pgconn.c), and a
 * replica whose DNS hangs must not stall the primary's calls; and a
 * read-heavy edge spreads its calls over the replicas, so a loop per pool
 * lets them use more than one CPU. An idle pool's thread sleeps in poll.
 *
 * Why one event loop rather than a thread per connection: a job is a few
 * statements, little work for the edge, and with a thread per connection a
 * busy edge spent more CPU handing jobs over (a condition variable wakeup
 * per job, one mutex every thread fought over) than on the jobs. Here one
 * thread polls every connection's socket and an eventfd: it sends as soon
 * as a connection is free and reads as soon as one has results, without
 * waiting on either. libmicrohttpd's threads never wait here: dbpool_submit
 * links the job into the queue and, when the loop has no wakeup pending,
 * writes the eventfd.
 *
 * A free connection takes the jobs waiting, up to DBPOOL_BATCH_MAX, and
 * sends them in one pipeline, each its own transaction closed by its own
 * Sync (pgconn_pipe_send); each job ends as soon as its Sync's result is
 * read. An idle edge thus sends a job at once with no wait for company, and
 * a busy one sends the jobs that queued meanwhile in one round trip.
 *
 * Connections open lazily, for the jobs that found no free connection, and
 * without blocking the loop (PQconnectStart/PQconnectPoll on the same
 * poll; pgconn.c notes the one caveat, host name resolution).
 *
 * Bounds: at most queue_max jobs wait (more are refused, 503); a job still
 * waiting at its deadline ends without a connection (503); a connection
 * whose jobs (connecting, or running) pass the earliest of their deadlines
 * is dropped, and every job on it ends without it (503), as on a connection
 * that breaks; statement_timeout bounds every statement on the server's
 * side. The poll's timeout is the earliest deadline.
 *
 * Locking, per pool: its lock guards the submitted queue, signalled,
 * stopping and thread_started; the loop moves the submitted jobs to a
 * queue of its own in one step. The counters are atomic. Everything else
 * is the loop's.
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
#include "timeutil.h"

/* Jobs one connection takes in one round trip at most. */
#define DBPOOL_BATCH_MAX 16

typedef struct DbConn
{
	PgPipe		pipe;			/* pipe.conn: NULL until connected */
	PGconn	   *connecting;		/* being made, for the jobs below */
	PostgresPollingStatusType connect_state;
	bool		flushing;		/* libpq holds output the socket refused */
	DbJob	   *head;			/* its jobs, oldest (next to read) first */
	DbJob	   *tail;
} DbConn;

struct DbPool
{
	char		name[32];		/* for the log: "primary", "replica-1" */
	pthread_mutex_t lock;
	DbJob	   *head;			/* submitted, under lock */
	DbJob	   *tail;
	bool		signalled;		/* the eventfd is written, not yet read */
	bool		stopping;
	bool		thread_started;

	atomic_int	queued;
	atomic_int	running;
	atomic_ulong batched;
	int			queue_max;

	/* the loop's own */
	char		logged[256];	/* the last connection failure logged */
	int64_t		logged_ms;
	pthread_t	thread;
	int			efd;
	DbConn	   *conns;
	int			size;
	char	   *conninfo;
	DbJob	   *qhead;			/* waiting for a connection */
	DbJob	   *qtail;
	int64_t		qmin;			/* no deadline there is earlier */
	struct pollfd *pfds;
	DbConn	  **pfd_conns;
};

/* A job that cannot run ends here, without a connection. */
static void
dbpool_fail(DbPool *p, DbJob *job, const char *err)
{
	atomic_fetch_sub(&p->running, 1);
	(void) job->done(job, NULL, err);
}

/*
 * Drops the connection (made or being made) and ends every job on it
 * without one.
 */
static void
dbpool_drop(DbPool *p, DbConn *c, const char *err)
{
	DbJob	   *job;

	if (c->connecting != NULL)
	{
		PQfinish(c->connecting);
		c->connecting = NULL;
	}
	if (c->pipe.conn != NULL)
		pgconn_pipe_close(&c->pipe);
	c->flushing = false;
	while ((job = c->head) != NULL)
	{
		c->head = job->next;
		pgconn_pipe_forget(&job->pipe);
		dbpool_fail(p, job, err);
	}
	c->tail = NULL;
}

/*
 * A connection could not be made: logged with the pool's name, the same
 * failure once every 10 s at most, since every job waiting makes an attempt
 * and a server that is down refuses them all.
 */
static void
dbpool_connect_failed(DbPool *p, const char *err)
{
	int64_t		now = timeutil_mono_ms();

	if (strcmp(err, p->logged) == 0 && now - p->logged_ms < 10000)
		return;
	snprintf(p->logged, sizeof(p->logged), "%s", err);
	p->logged_ms = now;
	log_write(LOG_LEVEL_WARN, "database connection failed", "{s:s, s:s}",
			  "pool", p->name, "error", err);
}

/* Sends the connection's jobs, and as much of them as the socket takes. */
static void
dbpool_send(DbPool *p, DbConn *c)
{
	char		err[256];
	int			n = 0;
	int			rc;
	bool		cork = c->head != NULL && c->head->next != NULL;

	/* one Sync per job, each flushed by libpq: leave together */
	if (cork)
		pgconn_pipe_cork(&c->pipe, true);
	for (DbJob *job = c->head; job != NULL; job = job->next, n++)
		if (!pgconn_pipe_send(&c->pipe, &job->pipe, err, sizeof(err)))
		{
			dbpool_drop(p, c, err);
			return;
		}
	if (n > 1)
		atomic_fetch_add(&p->batched, (unsigned long) n);
	rc = pgconn_pipe_flush(&c->pipe, err, sizeof(err));
	if (cork)
		pgconn_pipe_cork(&c->pipe, false);
	if (rc < 0)
		dbpool_drop(p, c, err);
	c->flushing = rc == 1;
}

/* A connection made: into pipeline mode, and its jobs sent. */
static void
dbpool_connected(DbPool *p, DbConn *c)
{
	PGconn	   *conn = c->connecting;
	char		err[256];

	c->connecting = NULL;
	if (!pgconn_connect_ready(conn, err, sizeof(err)) ||
		!pgconn_pipe_open(&c->pipe, conn, err, sizeof(err)))
	{
		PQfinish(conn);
		dbpool_connect_failed(p, err);
		dbpool_drop(p, c, err);
		return;
	}
	p->logged[0] = '\0';		/* the next failure is news again */
	dbpool_send(p, c);
}

/* One step of making the connection, when its socket is ready. */
static void
dbpool_connect_step(DbPool *p, DbConn *c)
{
	char		err[256];

	c->connect_state = PQconnectPoll(c->connecting);
	if (c->connect_state == PGRES_POLLING_OK)
		dbpool_connected(p, c);
	else if (c->connect_state == PGRES_POLLING_FAILED)
	{
		snprintf(err, sizeof(err), "connect: %.*s",
				 (int) strcspn(PQerrorMessage(c->connecting), "\n"),
				 PQerrorMessage(c->connecting));
		dbpool_connect_failed(p, err);
		dbpool_drop(p, c, err);
	}
}

/* The loop's queue gets what was submitted; true when stopping. */
static bool
dbpool_steal(DbPool *p)
{
	DbJob	   *head;
	DbJob	   *tail;
	bool		stopping;

	pthread_mutex_lock(&p->lock);
	head = p->head;
	tail = p->tail;
	p->head = p->tail = NULL;
	p->signalled = false;
	stopping = p->stopping;
	pthread_mutex_unlock(&p->lock);
	if (head == NULL)
		return stopping;
	for (DbJob *job = head; job != NULL; job = job->next)
		if (job->deadline_ms < p->qmin)
			p->qmin = job->deadline_ms;
	if (p->qtail != NULL)
		p->qtail->next = head;
	else
		p->qhead = head;
	p->qtail = tail;
	return stopping;
}

/* Ends the waiting jobs whose time is up, or all when stopping. */
static void
dbpool_expire(DbPool *p, int64_t now, bool stopping)
{
	DbJob	  **link = &p->qhead;
	DbJob	   *job;

	if (now < p->qmin && !stopping)
		return;
	p->qmin = INT64_MAX;
	p->qtail = NULL;
	while ((job = *link) != NULL)
	{
		if (stopping || now >= job->deadline_ms)
		{
			*link = job->next;
			atomic_fetch_sub(&p->queued, 1);
			atomic_fetch_add(&p->running, 1);
			dbpool_fail(p, job, stopping ? "shutting down" :
						"waited too long for a database connection");
			continue;
		}
		if (job->deadline_ms < p->qmin)
			p->qmin = job->deadline_ms;
		p->qtail = job;
		link = &job->next;
	}
}

/* A connection with no jobs: a live one first, else one to make. */
static DbConn *
dbpool_free_conn(DbPool *p)
{
	DbConn	   *down = NULL;

	for (int i = 0; i < p->size; i++)
	{
		DbConn	   *c = &p->conns[i];

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
dbpool_dispatch(DbPool *p)
{
	DbConn	   *c;
	char		err[256];
	int			n;

	while (p->qhead != NULL && (c = dbpool_free_conn(p)) != NULL)
	{
		c->head = p->qhead;
		for (n = 1; n < DBPOOL_BATCH_MAX && p->qhead->next != NULL; n++)
			p->qhead = p->qhead->next;
		c->tail = p->qhead;
		p->qhead = p->qhead->next;
		c->tail->next = NULL;
		if (p->qhead == NULL)
		{
			p->qtail = NULL;
			p->qmin = INT64_MAX;
		}
		atomic_fetch_sub(&p->queued, n);
		atomic_fetch_add(&p->running, n);

		/* a connection the server closed since its last jobs */
		if (c->pipe.conn != NULL && PQstatus(c->pipe.conn) != CONNECTION_OK)
			pgconn_pipe_close(&c->pipe);
		if (c->pipe.conn != NULL)
		{
			dbpool_send(p, c);
			continue;
		}
		c->connecting = pgconn_connect_start(p->conninfo, err, sizeof(err));
		if (c->connecting == NULL)
		{
			dbpool_connect_failed(p, err);
			dbpool_drop(p, c, err);
		}
		else
			c->connect_state = PGRES_POLLING_WRITING;
	}
}

/* The connection's socket is ready: read results, end the jobs they finish. */
static void
dbpool_io(DbPool *p, DbConn *c, short revents)
{
	char		err[256];
	DbJob	   *job;
	int			rc;

	if (c->connecting != NULL)
	{
		dbpool_connect_step(p, c);
		return;
	}
	if (c->pipe.conn == NULL)
		return;
	if ((revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) &&
		!pgconn_pipe_consume(&c->pipe, err, sizeof(err)))
	{
		dbpool_drop(p, c, err);
		return;
	}
	if (c->head == NULL)
	{
		/* an idle connection speaks only to say it is closing */
		if (PQstatus(c->pipe.conn) != CONNECTION_OK)
			pgconn_pipe_close(&c->pipe);
		return;
	}
	if (c->flushing)
	{
		rc = pgconn_pipe_flush(&c->pipe, err, sizeof(err));
		if (rc < 0)
		{
			dbpool_drop(p, c, err);
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
			dbpool_drop(p, c, err);
			return;
		}
		c->head = job->next;
		if (c->head == NULL)
			c->tail = NULL;
		atomic_fetch_sub(&p->running, 1);
		if (!job->done(job, c->pipe.conn, NULL))
		{
			dbpool_drop(p, c, "the connection broke");
			return;
		}
	}
}

/* Drops the connections whose jobs ran out of time; the earliest deadline left. */
static int64_t
dbpool_timeouts(DbPool *p, int64_t now)
{
	int64_t		next = p->qmin;

	for (int i = 0; i < p->size; i++)
	{
		DbConn	   *c = &p->conns[i];
		int64_t		deadline = INT64_MAX;

		for (DbJob *job = c->head; job != NULL; job = job->next)
			if (job->deadline_ms < deadline)
				deadline = job->deadline_ms;
		if (deadline == INT64_MAX)
			continue;
		if (now >= deadline)
			dbpool_drop(p, c, c->connecting != NULL ? "connect: timed out" :
						"query: timed out");
		else if (deadline < next)
			next = deadline;
	}
	return next;
}

static bool
dbpool_idle(const DbPool *p)
{
	if (p->qhead != NULL)
		return false;
	for (int i = 0; i < p->size; i++)
		if (p->conns[i].head != NULL)
			return false;
	return true;
}

static void *
dbpool_main(void *arg)
{
	DbPool	   *p = arg;
	bool		stopping = false;
	uint64_t	count;
	int64_t		now;
	int64_t		next;
	int			nfds;
	int			rc;

	for (;;)
	{
		now = timeutil_mono_ms();
		dbpool_expire(p, now, stopping);
		(void) dbpool_timeouts(p, now);
		dbpool_dispatch(p);
		if (stopping && dbpool_idle(p))
			break;

		next = dbpool_timeouts(p, now);
		p->pfds[0] = (struct pollfd) {p->efd, POLLIN, 0};
		nfds = 1;
		for (int i = 0; i < p->size; i++)
		{
			DbConn	   *c = &p->conns[i];
			PGconn	   *conn = c->connecting != NULL ? c->connecting : c->pipe.conn;
			short		events = POLLIN;

			if (conn == NULL || PQsocket(conn) < 0)
				continue;
			if (c->connecting != NULL)
				events = c->connect_state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			else if (c->flushing)
				events |= POLLOUT;
			p->pfds[nfds] = (struct pollfd) {PQsocket(conn), events, 0};
			p->pfd_conns[nfds++] = c;
		}
		now = timeutil_mono_ms();
		rc = poll(p->pfds, (nfds_t) nfds,
				  next == INT64_MAX ? 60000 :
				  next <= now ? 0 :
				  next - now > 60000 ? 60000 : (int) (next - now));
		if (rc < 0)
		{
			if (errno != EINTR)
				log_write(LOG_LEVEL_ERROR, "database pool poll failed", "{s:s, s:s}",
						  "pool", p->name, "error", strerror(errno));
			continue;
		}
		if (p->pfds[0].revents != 0)
		{
			/* nonblocking: empty only when a wakeup raced this read */
			if (read(p->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_write(LOG_LEVEL_ERROR, "database pool wakeup failed", "{s:s, s:s}",
						  "pool", p->name, "error", strerror(errno));
			stopping = dbpool_steal(p);
		}
		for (int i = 1; i < nfds; i++)
			if (p->pfds[i].revents != 0)
				dbpool_io(p, p->pfd_conns[i], p->pfds[i].revents);
	}
	return NULL;
}

/*
 * Closes what dbpool_start opened; the thread is gone or never was. The
 * struct stays, refusing jobs, until dbpool_free.
 */
static void
dbpool_close(DbPool *p)
{
	for (int i = 0; i < p->size && p->conns != NULL; i++)
		dbpool_drop(p, &p->conns[i], "shutting down");
	free(p->conns);
	p->conns = NULL;
	p->size = 0;
	free(p->pfds);
	p->pfds = NULL;
	free(p->pfd_conns);
	p->pfd_conns = NULL;
	free(p->conninfo);
	p->conninfo = NULL;
	if (p->efd >= 0)
		close(p->efd);
	p->efd = -1;
}

void
dbpool_free(DbPool *p)
{
	if (p == NULL)
		return;
	dbpool_close(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

DbPool *
dbpool_start(const char *name, const char *conninfo, int size, int queue_max,
			 int statement_timeout_ms, char *err, size_t errlen)
{
	DbPool	   *p = calloc(1, sizeof(*p));
	size_t		len;
	int			rc;

	if (p == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->efd = -1;
	p->qmin = INT64_MAX;
	snprintf(p->name, sizeof(p->name), "%s", name);
	if ((rc = pthread_mutex_init(&p->lock, NULL)) != 0)
	{
		snprintf(err, errlen, "database pool %s: mutex: %s", name, strerror(rc));
		free(p);
		return NULL;
	}

	/*
	 * statement_timeout rides in the connection's options, so it holds
	 * from the first statement; a conninfo URL and key=value strings both
	 * accept a trailing "options" keyword, but not both syntaxes at once:
	 * PQconninfoParse has no way to add to a URL, hence the explicit form.
	 */
	len = strlen(conninfo) + 96;
	p->conninfo = malloc(len);
	p->conns = calloc((size_t) size, sizeof(DbConn));
	p->pfds = calloc((size_t) size + 1, sizeof(struct pollfd));
	p->pfd_conns = calloc((size_t) size + 1, sizeof(DbConn *));
	p->size = size;
	if (p->conninfo == NULL || p->conns == NULL ||
		p->pfds == NULL || p->pfd_conns == NULL)
	{
		snprintf(err, errlen, "out of memory");
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
	p->queue_max = queue_max;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
	{
		snprintf(err, errlen, "could not make the database pool's eventfd: %s",
				 strerror(errno));
		dbpool_free(p);
		return NULL;
	}
	if (pthread_create(&p->thread, NULL, dbpool_main, p) != 0)
	{
		snprintf(err, errlen, "could not start the database thread of pool %s", name);
		dbpool_free(p);
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	p->thread_started = true;
	pthread_mutex_unlock(&p->lock);
	return p;
}

/* Wakes the loop: an eventfd write, unless one is pending already. */
static void
dbpool_wake(DbPool *p, bool wake)
{
	uint64_t	one = 1;

	/* fails only when the counter is full: a wakeup is pending then */
	if (wake && write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_write(LOG_LEVEL_ERROR, "database pool wakeup failed", "{s:s, s:s}",
				  "pool", p->name, "error", strerror(errno));
}

bool
dbpool_submit(DbPool *p, DbJob *job)
{
	bool		ok;
	bool		wake = false;

	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	ok = !p->stopping && p->thread_started &&
		atomic_load(&p->queued) < p->queue_max;
	if (ok)
	{
		if (p->tail != NULL)
			p->tail->next = job;
		else
			p->head = job;
		p->tail = job;
		atomic_fetch_add(&p->queued, 1);
		wake = !p->signalled;
		p->signalled = true;
	}
	pthread_mutex_unlock(&p->lock);
	dbpool_wake(p, wake);
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

void
dbpool_stop(DbPool *p)
{
	bool		started;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	started = p->thread_started;
	p->thread_started = false;
	pthread_mutex_unlock(&p->lock);
	if (started)
	{
		dbpool_wake(p, true);
		pthread_join(p->thread, NULL);
	}
	dbpool_close(p);
}
