/*
 * httploop.c
 *		The HTTP workers' event loops (see httploop.h).
 *
 * Why our own loops rather than libmicrohttpd's thread pool: a request
 * that waits on the database is suspended, and with libmicrohttpd's
 * threads its job went to a database thread and its answer came back
 * through libmicrohttpd's inter-thread channel: two cross-thread wakeups
 * and an eventfd write per call, which cost the edge more CPU than parsing
 * the request. A loop here waits in one poll on its daemon's epoll set, a
 * wakeup eventfd and the sockets of its shard of the database pool, so the
 * request, its statements and its answer stay on one thread.
 *
 * One turn of a loop: MHD_run (requests read and answered, connections
 * resumed, new jobs submitted), then the work's prepare (the jobs sent),
 * poll, then the work's dispatch (results read, their connections
 * resumed). In external mode libmicrohttpd has no channel of its own to
 * learn of a resume, so the loop is told: on its own thread a flag makes
 * the next poll not wait, from another thread (Redis, a read replica's
 * pool) an eventfd write, unless one is pending.
 *
 * libmicrohttpd's epoll mode is edge-triggered and keeps connections with
 * data still to process on a list of its own; MHD_get_timeout is 0 while
 * that list is not empty, so the poll never sleeps on work already read.
 *
 * Parked requests (http.c) stay on that list too: while a loop has any,
 * its timeout of 0 may mean nothing but them. A turn whose poll found
 * nothing then polls again for up to LOOP_PARKED_WAIT_MS (their answers,
 * new requests and the pool's sockets all wake it), and a second turn that
 * found nothing settles: the next MHD_run suspends the parked requests for
 * real, and the loop sleeps as long as libmicrohttpd lets it. Work of
 * libmicrohttpd's own left on the list meanwhile (a body still to read) is
 * delayed by that wait at most.
 *
 * Threads and locking: each loop's fields are its thread's, except
 * signalled (atomic) and the eventfd; loop_stopping, loop_quiesce and
 * loop_quiesced are atomics set by the main thread or counted by loops.
 */
#include "httploop.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* How long a loop with parked requests polls before it settles. */
#define LOOP_PARKED_WAIT_MS 1

struct HttpLoop
{
	int			index;
	struct MHD_Daemon *daemon;
	int			mhd_fd;			/* the daemon's epoll set */
	int			efd;			/* wakes the loop from other threads */
	atomic_bool signalled;		/* efd written, not yet read */
	bool		resumed;		/* resumed on this thread since MHD_run */
	int			parked;			/* requests parked (httploop_park) */
	int			idle_turns;		/* turns with parked requests that found nothing */
	bool		settling;		/* this MHD_run suspends the parked ones */
	bool		in_run;			/* in MHD_run */
	bool		quiesced;
	bool		started;
	pthread_t	thread;
};

static HttpLoop *loops;
static int	nloops;
static const HttpLoopWork *loop_work;
static atomic_bool loop_stopping;
static atomic_bool loop_quiesce;
static atomic_int loop_quiesced;
static __thread HttpLoop *loop_self;

HttpLoop *
httploop_self(void)
{
	return loop_self;
}

static void
httploop_wake(HttpLoop *l)
{
	uint64_t	one = 1;

	if (atomic_exchange(&l->signalled, true))
		return;
	/* fails only when the counter is full: a wakeup is pending then */
	if (write(l->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_write(LOG_LEVEL_ERROR, "HTTP loop wakeup failed", "{s:s}",
				  "error", strerror(errno));
}

void
httploop_resumed(HttpLoop *l)
{
	if (l == loop_self)
		l->resumed = true;
	else
		httploop_wake(l);
}

void
httploop_park(HttpLoop *l, int delta)
{
	l->parked += delta;
}

bool
httploop_settling(const HttpLoop *l)
{
	return l->settling;
}

bool
httploop_between_runs(const HttpLoop *l)
{
	return l == loop_self && !l->in_run;
}

/* Until libmicrohttpd next needs to run: 0 with work pending, -1 never. */
static int
httploop_timeout(HttpLoop *l)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (l->resumed)
		return 0;
	if (MHD_get_timeout(l->daemon, &ms) != MHD_YES)
		return -1;
	/* 0 may be the parked requests alone: see the header comment */
	if (ms == 0 && l->parked > 0 && l->idle_turns > 0)
		return LOOP_PARKED_WAIT_MS;
	return ms > INT_MAX ? INT_MAX : (int) ms;
}

static void
httploop_quiesce_one(HttpLoop *l)
{
	MHD_socket	fd;

	l->quiesced = true;
	fd = MHD_quiesce_daemon(l->daemon);
	/* out of this loop's epoll set: its duplicate of the socket can go */
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	else
		log_write(LOG_LEVEL_WARN, "could not stop accepting connections", NULL);
	atomic_fetch_add(&loop_quiesced, 1);
}

static void *
httploop_main(void *arg)
{
	HttpLoop   *l = arg;
	const HttpLoopWork *w = loop_work;
	void	   *ctx = NULL;
	struct pollfd *pfds;
	uint64_t	count;
	int			max = 0;
	int			n;
	int			ready;
	int			timeout;

	loop_self = l;
	if (w != NULL && (ctx = w->attach(w->arg, l->index)) != NULL)
		max = w->fds(ctx);
	pfds = calloc((size_t) max + 2, sizeof(*pfds));
	if (pfds == NULL)
	{
		/* nothing else to do: without its loop a worker would hang */
		log_write(LOG_LEVEL_ERROR, "out of memory", "{s:s}", "in", "HTTP loop");
		abort();
	}
	for (;;)
	{
		l->resumed = false;
		l->settling = l->idle_turns > 1;
		l->in_run = true;
		(void) MHD_run(l->daemon);
		l->in_run = false;
		if (l->settling)
			l->idle_turns = 0;
		if (atomic_load(&loop_quiesce) && !l->quiesced)
			httploop_quiesce_one(l);
		if (atomic_load(&loop_stopping))
			break;
		timeout = httploop_timeout(l);
		n = ctx != NULL ? w->prepare(ctx, pfds + 2, &timeout) : 0;
		/* prepare may end jobs (their deadline), resuming requests */
		if (l->resumed)
			timeout = 0;
		pfds[0] = (struct pollfd) {l->mhd_fd, POLLIN, 0};
		pfds[1] = (struct pollfd) {l->efd, POLLIN, 0};
		if ((ready = poll(pfds, (nfds_t) n + 2, timeout)) < 0)
		{
			if (errno != EINTR)
				log_write(LOG_LEVEL_ERROR, "HTTP loop poll failed", "{s:s}",
						  "error", strerror(errno));
			continue;
		}
		l->idle_turns = ready == 0 && l->parked > 0 ? l->idle_turns + 1 : 0;
		if (pfds[1].revents != 0)
		{
			/*
			 * Read, then cleared: cleared first, a wake between the two
			 * would be read here and leave signalled set with nothing to
			 * read, and no later wake would ever write. A wake that finds
			 * it still set has resumed before this exchange, which makes
			 * the resume visible to the MHD_run that follows.
			 */
			if (read(l->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
				log_write(LOG_LEVEL_ERROR, "HTTP loop wakeup failed", "{s:s}",
						  "error", strerror(errno));
			(void) atomic_exchange(&l->signalled, false);
		}
		if (ctx != NULL)
			w->dispatch(ctx, pfds + 2, n);
	}
	if (ctx != NULL)
		w->detach(ctx);
	free(pfds);
	loop_self = NULL;
	return NULL;
}

bool
httploop_start(struct MHD_Daemon **daemons, int n, const HttpLoopWork *work,
			   char *err, size_t errlen)
{
	loops = calloc((size_t) n, sizeof(*loops));
	if (loops == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	nloops = n;
	loop_work = work;
	for (int i = 0; i < n; i++)
	{
		HttpLoop   *l = &loops[i];
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(daemons[i], MHD_DAEMON_INFO_EPOLL_FD);

		l->index = i;
		l->daemon = daemons[i];
		l->efd = -1;
		if (info == NULL)
		{
			snprintf(err, errlen, "libmicrohttpd has no epoll set");
			httploop_stop();
			return false;
		}
		l->mhd_fd = info->epoll_fd;
		l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (l->efd < 0)
		{
			snprintf(err, errlen, "could not make an HTTP loop's eventfd: %s",
					 strerror(errno));
			httploop_stop();
			return false;
		}
	}
	for (int i = 0; i < n; i++)
	{
		char		name[16];

		if (pthread_create(&loops[i].thread, NULL, httploop_main, &loops[i]) != 0)
		{
			snprintf(err, errlen, "could not start an HTTP worker thread");
			httploop_stop();
			return false;
		}
		loops[i].started = true;
		snprintf(name, sizeof(name), "http-%d", i);
		(void) pthread_setname_np(loops[i].thread, name);
	}
	return true;
}

void
httploop_quiesce(int timeout_ms)
{
	struct timespec tick = {0, 1000000};

	atomic_store(&loop_quiesce, true);
	for (int i = 0; i < nloops; i++)
		if (loops[i].started)
			httploop_wake(&loops[i]);
	for (int waited = 0; waited < timeout_ms &&
		 atomic_load(&loop_quiesced) < nloops; waited++)
		nanosleep(&tick, NULL);
}

void
httploop_stop(void)
{
	atomic_store(&loop_stopping, true);
	for (int i = 0; i < nloops; i++)
	{
		if (loops[i].started)
		{
			httploop_wake(&loops[i]);
			pthread_join(loops[i].thread, NULL);
		}
		if (loops[i].efd >= 0)
			close(loops[i].efd);
	}
	free(loops);
	loops = NULL;
	nloops = 0;
}
