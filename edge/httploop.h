/*
 * httploop.h
 *		The HTTP workers' event loops: one thread per libmicrohttpd daemon,
 *		each also driving the work attached to it (a shard of the primary's
 *		database pool), so that a request and its database round trip are
 *		handled on one thread.
 *
 * http.c makes the daemons (libmicrohttpd in external epoll mode, sharing
 * the listening socket) and hands them here; a request is then only ever
 * touched by its daemon's loop, as before with libmicrohttpd's own threads.
 */
#ifndef EDGE_HTTPLOOP_H
#define EDGE_HTTPLOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct HttpLoop HttpLoop;
struct MHD_Daemon;

/*
 * What a loop drives besides its daemon, through these calls on the loop's
 * thread: attach(arg, index) once (NULL: nothing for this loop), then
 * around each wait prepare (fills at most fds(ctx) pollfds, may lower
 * *timeout_ms, -1 meaning none) and dispatch (their revents), and detach
 * when the loop ends.
 */
typedef struct HttpLoopWork
{
	void	   *arg;
	void	   *(*attach) (void *arg, int index);
	int			(*fds) (void *ctx);
	int			(*prepare) (void *ctx, struct pollfd *pfds, int *timeout_ms);
	void		(*dispatch) (void *ctx, const struct pollfd *pfds, int n);
	void		(*detach) (void *ctx);
} HttpLoopWork;

/* A thread per daemon; work may be NULL. */
extern bool httploop_start(struct MHD_Daemon **daemons, int n,
						   const HttpLoopWork *work, char *err, size_t errlen);

/* The loop of the calling thread; NULL on any other thread. */
extern HttpLoop *httploop_self(void);

/*
 * After MHD_resume_connection of a connection of loop's, from any thread:
 * makes sure the loop runs its daemon soon (an eventfd write when called
 * from another thread and no wakeup is pending; nothing otherwise).
 */
extern void httploop_resumed(HttpLoop *loop);

/*
 * Parked requests (see http_suspend): wait for an answer without being
 * suspended in libmicrohttpd, which calls their handler again at every run.
 * On the loop's thread: httploop_park counts them in (+1) and out (-1);
 * httploop_settling says the loop found nothing to do while they waited,
 * and a parked request called now should suspend for real, so that the
 * loop can sleep.
 */
extern void httploop_park(HttpLoop *loop, int delta);
extern bool httploop_settling(const HttpLoop *loop);

/*
 * True on loop's own thread outside its MHD_run (in the work's prepare or
 * dispatch): a request of the loop's woken here can be finished at once,
 * with no handler of its own or of libmicrohttpd's below on the stack.
 */
extern bool httploop_between_runs(const HttpLoop *loop);

/*
 * Every loop stops accepting connections (MHD_quiesce_daemon on its own
 * thread); returns once all have, or after timeout_ms.
 */
extern void httploop_quiesce(int timeout_ms);

/*
 * Ends and joins the loops; their daemons are the caller's to stop.
 * Nothing is answered after this.
 */
extern void httploop_stop(void);

#endif							/* EDGE_HTTPLOOP_H */
