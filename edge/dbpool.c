/*
 * dbpool.c
 *		The edge's PostgreSQL connections: one thread drives them all, each
 *		nonblocking and in pipeline mode, taking jobs from one queue.
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
 * Locking: dbpool_lock guards the submitted queue, dbpool_signalled and
 * dbpool_stopping; the loop moves the submitted jobs to a queue of its own
 * in one step. The counters are atomic. Everything else is the loop's.
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

static pthread_mutex_t dbpool_lock = PTHREAD_MUTEX_INITIALIZER;
static DbJob *dbpool_head;		/* submitted, under dbpool_lock */
static DbJob *dbpool_tail;
static bool dbpool_signalled;	/* the eventfd is written, not yet read */
static bool dbpool_stopping;

static atomic_int dbpool_queued;
static atomic_int dbpool_running;
static atomic_ulong dbpool_batched;
static int	dbpool_queue_max;

/* the loop's own */
static pthread_t dbpool_thread;
static bool dbpool_thread_started;
static int	dbpool_efd = -1;
static DbConn *dbpool_conns;
static int	dbpool_size;
static char *dbpool_conninfo;
static DbJob *dbpool_qhead;		/* waiting for a connection */
static DbJob *dbpool_qtail;
static int64_t dbpool_qmin = INT64_MAX; /* no deadline there is earlier */
static struct pollfd *dbpool_pfds;
static DbConn **dbpool_pfd_conns;

/* A job that cannot run ends here, without a connection. */
static void
dbpool_fail(DbJob *job, const char *err)
{
	atomic_fetch_sub(&dbpool_running, 1);
	(void) job->done(job, NULL, err);
}

/*
 * Drops the connection (made or being made) and ends every job on it
 * without one.
 */
static void
dbpool_drop(DbConn *c, const char *err)
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
		dbpool_fail(job, err);
	}
	c->tail = NULL;
}

/* Sends the connection's jobs, and as much of them as the socket takes. */
static void
dbpool_send(DbConn *c)
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
			dbpool_drop(c, err);
			return;
		}
	if (n > 1)
		atomic_fetch_add(&dbpool_batched, (unsigned long) n);
	rc = pgconn_pipe_flush(&c->pipe, err, sizeof(err));
	if (cork)
		pgconn_pipe_cork(&c->pipe, false);
	if (rc < 0)
		dbpool_drop(c, err);
	c->flushing = rc == 1;
}

/* A connection made: into pipeline mode, and its jobs sent. */
static void
dbpool_connected(DbConn *c)
{
	PGconn	   *conn = c->connecting;
	char		err[256];

	c->connecting = NULL;
	if (!pgconn_connect_ready(conn, err, sizeof(err)) ||
		!pgconn_pipe_open(&c->pipe, conn, err, sizeof(err)))
	{
		PQfinish(conn);
		log_write(LOG_LEVEL_WARN, "database connection failed", "{s:s}", "error", err);
		dbpool_drop(c, err);
		return;
	}
	dbpool_send(c);
}

/* One step of making the connection, when its socket is ready. */
static void
dbpool_connect_step(DbConn *c)
{
	char		err[256];

	c->connect_state = PQconnectPoll(c->connecting);
	if (c->connect_state == PGRES_POLLING_OK)
		dbpool_connected(c);
	else if (c->connect_state == PGRES_POLLING_FAILED)
	{
		snprintf(err, sizeof(err), "connect: %.*s",
				 (int) strcspn(PQerrorMessage(c->connecting), "\n"),
				 PQerrorMessage(c->connecting));
		log_write(LOG_LEVEL_WARN, "database connection failed", "{s:s}", "error", err);
		dbpool_drop(c, err);
	}
}

/* The loop's queue gets what was submitted; true when stopping. */
static bool
dbpool_steal(void)
{
	DbJob	   *head;
	DbJob	   *tail;
	bool		stopping;

	pthread_mutex_lock(&dbpool_lock);
	head = dbpool_head;
	tail = dbpool_tail;
	dbpool_head = dbpool_tail = NULL;
	dbpool_signalled = false;
	stopping = dbpool_stopping;
	pthread_mutex_unlock(&dbpool_lock);
	if (head == NULL)
		return stopping;
	for (DbJob *job = head; job != NULL; job = job->next)
		if (job->deadline_ms < dbpool_qmin)
			dbpool_qmin = job->deadline_ms;
	if (dbpool_qtail != NULL)
		dbpool_qtail->next = head;
	else
		dbpool_qhead = head;
	dbpool_qtail = tail;
	return stopping;
}

/* Ends the waiting jobs whose time is up, or all when stopping. */
static void
dbpool_expire(int64_t now, bool stopping)
{
	DbJob	  **link = &dbpool_qhead;
	DbJob	   *job;

	if (now < dbpool_qmin && !stopping)
		return;
	dbpool_qmin = INT64_MAX;
	dbpool_qtail = NULL;
	while ((job = *link) != NULL)
	{
		if (stopping || now >= job->deadline_ms)
		{
			*link = job->next;
			atomic_fetch_sub(&dbpool_queued, 1);
			atomic_fetch_add(&dbpool_running, 1);
			dbpool_fail(job, stopping ? "shutting down" :
						"waited too long for a database connection");
			continue;
		}
		if (job->deadline_ms < dbpool_qmin)
			dbpool_qmin = job->deadline_ms;
		dbpool_qtail = job;
		link = &job->next;
	}
}

/* A connection with no jobs: a live one first, else one to make. */
static DbConn *
dbpool_free_conn(void)
{
	DbConn	   *down = NULL;

	for (int i = 0; i < dbpool_size; i++)
	{
		DbConn	   *c = &dbpool_conns[i];

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
dbpool_dispatch(void)
{
	DbConn	   *c;
	char		err[256];
	int			n;

	while (dbpool_qhead != NULL && (c = dbpool_free_conn()) != NULL)
	{
		c->head = dbpool_qhead;
		for (n = 1; n < DBPOOL_BATCH_MAX && dbpool_qhead->next != NULL; n++)
			dbpool_qhead = dbpool_qhead->next;
		c->tail = dbpool_qhead;
		dbpool_qhead = dbpool_qhead->next;
		c->tail->next = NULL;
		if (dbpool_qhead == NULL)
		{
			dbpool_qtail = NULL;
			dbpool_qmin = INT64_MAX;
		}
		atomic_fetch_sub(&dbpool_queued, n);
		atomic_fetch_add(&dbpool_running, n);

		/* a connection the server closed since its last jobs */
		if (c->pipe.conn != NULL && PQstatus(c->pipe.conn) != CONNECTION_OK)
			pgconn_pipe_close(&c->pipe);
		if (c->pipe.conn != NULL)
		{
			dbpool_send(c);
			continue;
		}
		c->connecting = pgconn_connect_start(dbpool_conninfo, err, sizeof(err));
		if (c->connecting == NULL)
		{
			log_write(LOG_LEVEL_WARN, "database connection failed", "{s:s}", "error", err);
			dbpool_drop(c, err);
		}
		else
			c->connect_state = PGRES_POLLING_WRITING;
	}
}

/* The connection's socket is ready: read results, end the jobs they finish. */
static void
dbpool_io(DbConn *c, short revents)
{
	char		err[256];
	DbJob	   *job;
	int			rc;

	if (c->connecting != NULL)
	{
		dbpool_connect_step(c);
		return;
	}
	if (c->pipe.conn == NULL)
		return;
	if ((revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) &&
		!pgconn_pipe_consume(&c->pipe, err, sizeof(err)))
	{
		dbpool_drop(c, err);
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
			dbpool_drop(c, err);
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
			dbpool_drop(c, err);
			return;
		}
		c->head = job->next;
		if (c->head == NULL)
			c->tail = NULL;
		atomic_fetch_sub(&dbpool_running, 1);
		if (!job->done(job, c->pipe.conn, NULL))
		{
			dbpool_drop(c, "the connection broke");
			return;
		}
	}
}

/* Drops the connections whose jobs ran out of time; the earliest deadline left. */
static int64_t
dbpool_timeouts(int64_t now)
{
	int64_t		next = dbpool_qmin;

	for (int i = 0; i < dbpool_size; i++)
	{
		DbConn	   *c = &dbpool_conns[i];
		int64_t		deadline = INT64_MAX;

		for (DbJob *job = c->head; job != NULL; job = job->next)
			if (job->deadline_ms < deadline)
				deadline = job->deadline_ms;
		if (deadline == INT64_MAX)
			continue;
		if (now >= deadline)
			dbpool_drop(c, c->connecting != NULL ? "connect: timed out" :
						"query: timed out");
		else if (deadline < next)
			next = deadline;
	}
	return next;
}

static bool
dbpool_idle(void)
{
	if (dbpool_qhead != NULL)
		return false;
	for (int i = 0; i < dbpool_size; i++)
		if (dbpool_conns[i].head != NULL)
			return false;
	return true;
}

static void *
dbpool_main(void *arg)
{
	bool		stopping = false;
	uint64_t	count;
	int64_t		now;
	int64_t		next;
	int			nfds;
	int			rc;

	(void) arg;
	for (;;)
	{
		now = timeutil_mono_ms();
		dbpool_expire(now, stopping);
		(void) dbpool_timeouts(now);
		dbpool_dispatch();
		if (stopping && dbpool_idle())
			break;

		next = dbpool_timeouts(now);
		dbpool_pfds[0] = (struct pollfd) {dbpool_efd, POLLIN, 0};
		nfds = 1;
		for (int i = 0; i < dbpool_size; i++)
		{
			DbConn	   *c = &dbpool_conns[i];
			PGconn	   *conn = c->connecting != NULL ? c->connecting : c->pipe.conn;
			short		events = POLLIN;

			if (conn == NULL || PQsocket(conn) < 0)
				continue;
			if (c->connecting != NULL)
				events = c->connect_state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			else if (c->flushing)
				events |= POLLOUT;
			dbpool_pfds[nfds] = (struct pollfd) {PQsocket(conn), events, 0};
			dbpool_pfd_conns[nfds++] = c;
		}
		now = timeutil_mono_ms();
		rc = poll(dbpool_pfds, (nfds_t) nfds,
				  next == INT64_MAX ? 60000 :
				  next <= now ? 0 :
				  next - now > 60000 ? 60000 : (int) (next - now));
		if (rc < 0)
		{
			if (errno != EINTR)
				log_write(LOG_LEVEL_ERROR, "database pool poll failed", "{s:s}",
						  "error", strerror(errno));
			continue;
		}
		if (dbpool_pfds[0].revents != 0)
		{
			/* nonblocking: empty only when a wakeup raced this read */
			if (read(dbpool_efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_write(LOG_LEVEL_ERROR, "database pool wakeup failed", "{s:s}",
						  "error", strerror(errno));
			stopping = dbpool_steal();
		}
		for (int i = 1; i < nfds; i++)
			if (dbpool_pfds[i].revents != 0)
				dbpool_io(dbpool_pfd_conns[i], dbpool_pfds[i].revents);
	}
	return NULL;
}

/* Frees what dbpool_start made; the thread is gone or never was. */
static void
dbpool_free(void)
{
	for (int i = 0; i < dbpool_size && dbpool_conns != NULL; i++)
		dbpool_drop(&dbpool_conns[i], "shutting down");
	free(dbpool_conns);
	dbpool_conns = NULL;
	dbpool_size = 0;
	free(dbpool_pfds);
	dbpool_pfds = NULL;
	free(dbpool_pfd_conns);
	dbpool_pfd_conns = NULL;
	free(dbpool_conninfo);
	dbpool_conninfo = NULL;
	if (dbpool_efd >= 0)
		close(dbpool_efd);
	dbpool_efd = -1;
}

bool
dbpool_start(const char *conninfo, int size, int queue_max,
			 int statement_timeout_ms, char *err, size_t errlen)
{
	size_t		len;

	/*
	 * statement_timeout rides in the connection's options, so it holds
	 * from the first statement; a conninfo URL and key=value strings both
	 * accept a trailing "options" keyword, but not both syntaxes at once:
	 * PQconninfoParse has no way to add to a URL, hence the explicit form.
	 */
	len = strlen(conninfo) + 96;
	dbpool_conninfo = malloc(len);
	dbpool_conns = calloc((size_t) size, sizeof(DbConn));
	dbpool_pfds = calloc((size_t) size + 1, sizeof(struct pollfd));
	dbpool_pfd_conns = calloc((size_t) size + 1, sizeof(DbConn *));
	dbpool_size = size;
	if (dbpool_conninfo == NULL || dbpool_conns == NULL ||
		dbpool_pfds == NULL || dbpool_pfd_conns == NULL)
	{
		snprintf(err, errlen, "out of memory");
		dbpool_free();
		return false;
	}
	if (strncmp(conninfo, "postgres://", 11) == 0 ||
		strncmp(conninfo, "postgresql://", 13) == 0)
		snprintf(dbpool_conninfo, len, "%s%soptions=-cstatement_timeout%%3D%d",
				 conninfo, strchr(conninfo, '?') ? "&" : "?",
				 statement_timeout_ms);
	else
		snprintf(dbpool_conninfo, len, "%s options='-cstatement_timeout=%d'",
				 conninfo, statement_timeout_ms);
	dbpool_queue_max = queue_max;
	dbpool_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dbpool_efd < 0)
	{
		snprintf(err, errlen, "could not make the database pool's eventfd: %s",
				 strerror(errno));
		dbpool_free();
		return false;
	}
	if (pthread_create(&dbpool_thread, NULL, dbpool_main, NULL) != 0)
	{
		snprintf(err, errlen, "could not start the database thread");
		dbpool_free();
		return false;
	}
	pthread_mutex_lock(&dbpool_lock);
	dbpool_thread_started = true;
	pthread_mutex_unlock(&dbpool_lock);
	return true;
}

/* Wakes the loop: an eventfd write, unless one is pending already. */
static void
dbpool_wake(bool wake)
{
	uint64_t	one = 1;

	/* fails only when the counter is full: a wakeup is pending then */
	if (wake && write(dbpool_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_write(LOG_LEVEL_ERROR, "database pool wakeup failed", "{s:s}",
				  "error", strerror(errno));
}

bool
dbpool_submit(DbJob *job)
{
	bool		ok;
	bool		wake = false;

	job->next = NULL;
	pthread_mutex_lock(&dbpool_lock);
	ok = !dbpool_stopping && dbpool_thread_started &&
		atomic_load(&dbpool_queued) < dbpool_queue_max;
	if (ok)
	{
		if (dbpool_tail != NULL)
			dbpool_tail->next = job;
		else
			dbpool_head = job;
		dbpool_tail = job;
		atomic_fetch_add(&dbpool_queued, 1);
		wake = !dbpool_signalled;
		dbpool_signalled = true;
	}
	pthread_mutex_unlock(&dbpool_lock);
	dbpool_wake(wake);
	return ok;
}

int
dbpool_waiting(void)
{
	return atomic_load(&dbpool_queued);
}

int
dbpool_busy(void)
{
	return atomic_load(&dbpool_running);
}

unsigned long
dbpool_batched_total(void)
{
	return atomic_load(&dbpool_batched);
}

void
dbpool_stop(void)
{
	bool		started;

	pthread_mutex_lock(&dbpool_lock);
	dbpool_stopping = true;
	started = dbpool_thread_started;
	dbpool_thread_started = false;
	pthread_mutex_unlock(&dbpool_lock);
	if (started)
	{
		dbpool_wake(true);
		pthread_join(dbpool_thread, NULL);
	}
	dbpool_free();
}
