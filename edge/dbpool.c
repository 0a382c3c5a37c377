/*
 * dbpool.c
 *		The edge's PostgreSQL connections: a fixed number of threads, each
 *		owning at most one connection, taking jobs from one queue.
 *
 * Why threads with blocking (deadline-bounded) libpq calls instead of one
 * event loop over nonblocking connections: a job is a few statements at
 * most, the pool is small (the spec allows 100 connections for all edges),
 * and a thread per connection keeps each job a plain sequence of calls.
 * What must not block is libmicrohttpd's threads, and they never wait here:
 * dbpool_submit only links the job into the queue.
 *
 * Bounds: at most queue_max jobs wait (more are refused, 503); a job that
 * waited past its deadline runs without a connection (503); connecting
 * and every statement are bounded by the job's deadline on our side and by
 * statement_timeout on the server's.
 *
 * Locking: dbpool_lock guards the queue, the counters and stopping.
 */
#include "dbpool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"
#include "timeutil.h"

typedef struct DbWorker
{
	pthread_t	thread;
	PGconn	   *conn;
} DbWorker;

static pthread_mutex_t dbpool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dbpool_wake = PTHREAD_COND_INITIALIZER;
static DbJob *dbpool_head;
static DbJob *dbpool_tail;
static int	dbpool_queued;
static int	dbpool_running;
static int	dbpool_queue_max;
static bool dbpool_stopping;
static DbWorker *dbpool_workers;
static int	dbpool_size;
static char *dbpool_conninfo;

/* Jobs one connection takes in one round trip at most. */
#define DBPOOL_BATCH_MAX 16

/*
 * The next jobs: the first in the queue, and behind it, while they run the
 * same way, up to max - 1 more (a busy edge sends them in one round trip;
 * an idle one takes one at a time, with no wait for company). 0 when
 * stopping with an empty queue.
 */
static int
dbpool_take(DbJob **jobs, int max)
{
	int			n = 0;

	pthread_mutex_lock(&dbpool_lock);
	while (dbpool_head == NULL && !dbpool_stopping)
		pthread_cond_wait(&dbpool_wake, &dbpool_lock);
	while (dbpool_head != NULL && n < max &&
		   (n == 0 || (jobs[0]->run_many != NULL &&
					   dbpool_head->run_many == jobs[0]->run_many)))
	{
		jobs[n++] = dbpool_head;
		dbpool_head = dbpool_head->next;
		if (dbpool_head == NULL)
			dbpool_tail = NULL;
		dbpool_queued--;
		dbpool_running++;
	}
	pthread_mutex_unlock(&dbpool_lock);
	return n;
}

static void
dbpool_done(int n)
{
	pthread_mutex_lock(&dbpool_lock);
	dbpool_running -= n;
	pthread_mutex_unlock(&dbpool_lock);
}

static void *
dbpool_main(void *arg)
{
	DbWorker   *w = arg;
	DbJob	   *jobs[DBPOOL_BATCH_MAX];
	DbJob	   *ready[DBPOOL_BATCH_MAX];
	int64_t		deadline;
	char		err[256];
	bool		stopping;
	bool		ok;
	int			n;
	int			nready;
	int			i;

	while ((n = dbpool_take(jobs, DBPOOL_BATCH_MAX)) > 0)
	{
		pthread_mutex_lock(&dbpool_lock);
		stopping = dbpool_stopping;
		pthread_mutex_unlock(&dbpool_lock);

		/* the jobs whose time is up, or all when stopping, go unrun */
		nready = 0;
		deadline = INT64_MAX;
		for (i = 0; i < n; i++)
		{
			if (stopping)
				(void) jobs[i]->run(jobs[i], NULL, "shutting down");
			else if (timeutil_mono_ms() >= jobs[i]->deadline_ms)
				(void) jobs[i]->run(jobs[i], NULL, "waited too long for a database connection");
			else
			{
				ready[nready++] = jobs[i];
				if (jobs[i]->deadline_ms < deadline)
					deadline = jobs[i]->deadline_ms;
			}
		}
		if (nready > 0)
		{
			/* a connection broken by the last jobs shows here as BAD */
			if (w->conn != NULL && PQstatus(w->conn) != CONNECTION_OK)
			{
				PQfinish(w->conn);
				w->conn = NULL;
			}
			if (w->conn == NULL)
			{
				w->conn = pgconn_connect(dbpool_conninfo, deadline, err, sizeof(err));
				if (w->conn == NULL)
					log_write(LOG_LEVEL_WARN, "database connection failed",
							  "{s:s}", "error", err);
			}
			if (w->conn == NULL)
			{
				for (i = 0; i < nready; i++)
					(void) ready[i]->run(ready[i], NULL, err);
				ok = true;
			}
			else if (nready > 1)
				ok = ready[0]->run_many(ready, nready, w->conn);
			else
				ok = ready[0]->run(ready[0], w->conn, NULL);
			if (!ok && w->conn != NULL)
			{
				PQfinish(w->conn);
				w->conn = NULL;
			}
		}
		dbpool_done(n);
	}
	return NULL;
}

bool
dbpool_start(const char *conninfo, int size, int queue_max,
			 int statement_timeout_ms, char *err, size_t errlen)
{
	int			i;
	size_t		len;

	/*
	 * statement_timeout rides in the connection's options, so it holds
	 * from the first statement; a conninfo URL and key=value strings both
	 * accept a trailing "options" keyword, but not both syntaxes at once:
	 * PQconninfoParse has no way to add to a URL, hence the explicit form.
	 */
	len = strlen(conninfo) + 96;
	dbpool_conninfo = malloc(len);
	dbpool_workers = calloc((size_t) size, sizeof(DbWorker));
	if (dbpool_conninfo == NULL || dbpool_workers == NULL)
	{
		snprintf(err, errlen, "out of memory");
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
	dbpool_size = size;
	for (i = 0; i < size; i++)
	{
		if (pthread_create(&dbpool_workers[i].thread, NULL, dbpool_main,
						   &dbpool_workers[i]) != 0)
		{
			snprintf(err, errlen, "could not start database thread %d", i);
			dbpool_size = i;
			dbpool_stop();
			return false;
		}
	}
	return true;
}

bool
dbpool_submit(DbJob *job)
{
	bool		ok;

	job->next = NULL;
	pthread_mutex_lock(&dbpool_lock);
	ok = !dbpool_stopping && dbpool_queued < dbpool_queue_max;
	if (ok)
	{
		if (dbpool_tail != NULL)
			dbpool_tail->next = job;
		else
			dbpool_head = job;
		dbpool_tail = job;
		dbpool_queued++;
		pthread_cond_signal(&dbpool_wake);
	}
	pthread_mutex_unlock(&dbpool_lock);
	return ok;
}

int
dbpool_waiting(void)
{
	int			n;

	pthread_mutex_lock(&dbpool_lock);
	n = dbpool_queued;
	pthread_mutex_unlock(&dbpool_lock);
	return n;
}

int
dbpool_busy(void)
{
	int			n;

	pthread_mutex_lock(&dbpool_lock);
	n = dbpool_running;
	pthread_mutex_unlock(&dbpool_lock);
	return n;
}

void
dbpool_stop(void)
{
	int			i;

	pthread_mutex_lock(&dbpool_lock);
	dbpool_stopping = true;
	pthread_cond_broadcast(&dbpool_wake);
	pthread_mutex_unlock(&dbpool_lock);
	for (i = 0; i < dbpool_size; i++)
	{
		pthread_join(dbpool_workers[i].thread, NULL);
		PQfinish(dbpool_workers[i].conn);
	}
	free(dbpool_workers);
	dbpool_workers = NULL;
	dbpool_size = 0;
	free(dbpool_conninfo);
	dbpool_conninfo = NULL;
}
