/*
 * rediscall_probe.c
 *		Drives edge/rediscall.c against a real Redis outside the HTTP
 *		server, for tests/integration/edge_rediscall.sh.
 *
 * The HTTP layer is replaced by a stand-in request: http_suspend records
 * the completion, http_resume wakes the thread that waits on it, as
 * libmicrohttpd would run the completion on the connection's thread.
 * Everything else is the edge's own code: rediscall.c, redisconn.c,
 * log.c, timeutil.c and the Redis of the private stack.
 *
 * usage: rediscall_probe REDIS-URL COMMAND [ARG]
 *	pipeline N	N INCRs of one key from 4 threads with rediscall_send;
 *				checks every callback got an integer reply, each thread's
 *				replies in its own order, and the key at N; prints
 *				"ok <commands> <per second>"
 *	submit		rediscall_submit of SET, GET, an unknown command; checks
 *				what the completion reads
 *	down		(Redis stopped) send refused at once, submit completed at
 *				once with a NULL result
 *	frozen		(Redis stopped with SIGSTOP) a command fails within its
 *				deadline, and Redis reads as down afterwards
 * Exit status 0 and "ok ..." on stdout, or 1 and "FAIL: ..." on stderr.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "rediscall.h"
#include "timeutil.h"

#define PROBE_THREADS 4
#define PROBE_KEY "warden:probe:counter"

/* --- the stand-in request ------------------------------------------------- */

struct HttpRequest
{
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool		resumed;
	HttpHandler complete;
	void	   *data;
	void		(*data_free) (void *data);
};

void
http_suspend(HttpRequest *req, HttpHandler complete)
{
	req->complete = complete;
}

void
http_resume(HttpRequest *req)
{
	pthread_mutex_lock(&req->lock);
	req->resumed = true;
	pthread_cond_signal(&req->wake);
	pthread_mutex_unlock(&req->lock);
}

void
http_set_call(HttpRequest *req, void *data, void (*data_free) (void *data))
{
	if (req->data != NULL && req->data_free != NULL)
		req->data_free(req->data);
	req->data = data;
	req->data_free = data_free;
}

void *
http_call(const HttpRequest *req)
{
	return req->data;
}

void
http_add_timing(HttpRequest *req, const char *name, double ms)
{
	(void) req;
	(void) name;
	(void) ms;
}

static void
probe_fail(const char *what)
{
	fprintf(stderr, "FAIL: %s\n", what);
	exit(1);
}

/* Submits argv on a fresh stand-in request and runs its completion. */
static const redisReply *probe_reply;

static bool
probe_complete(HttpRequest *req)
{
	probe_reply = rediscall_result(req);
	return true;
}

static HttpRequest *
probe_submit(int argc, const char **argv, int timeout_ms, int64_t *waited_ms)
{
	HttpRequest *req = calloc(1, sizeof(*req));
	size_t		lens[8];
	int64_t		start = timeutil_mono_ms();
	int			i;

	if (req == NULL)
		probe_fail("out of memory");
	pthread_mutex_init(&req->lock, NULL);
	pthread_cond_init(&req->wake, NULL);
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (!rediscall_submit(req, argc, argv, lens, timeout_ms, probe_complete))
		probe_fail("rediscall_submit set nothing up");
	pthread_mutex_lock(&req->lock);
	while (!req->resumed)
		pthread_cond_wait(&req->wake, &req->lock);
	pthread_mutex_unlock(&req->lock);
	*waited_ms = timeutil_mono_ms() - start;
	if (req->complete == NULL || !req->complete(req))
		probe_fail("no completion");
	return req;
}

static void
probe_request_free(HttpRequest *req)
{
	http_set_call(req, NULL, NULL);
	pthread_mutex_destroy(&req->lock);
	pthread_cond_destroy(&req->wake);
	free(req);
}

/* --- pipeline ------------------------------------------------------------- */

typedef struct ProbeThread
{
	pthread_t	thread;
	long		n;
	atomic_long done;
	atomic_long bad;
	long long	last;			/* this thread's replies must grow */
} ProbeThread;

static void
probe_counted(void *arg, const redisReply *reply)
{
	ProbeThread *t = arg;

	if (reply == NULL || reply->type != REDIS_REPLY_INTEGER || reply->integer <= t->last)
		atomic_fetch_add(&t->bad, 1);
	else
		t->last = reply->integer;
	atomic_fetch_add(&t->done, 1);
}

static void *
probe_sender(void *arg)
{
	ProbeThread *t = arg;
	const char *argv[2] = {"INCR", PROBE_KEY};
	size_t		lens[2] = {4, strlen(PROBE_KEY)};
	long		i;

	for (i = 0; i < t->n; i++)
	{
		/* a full queue refuses: wait for room, as a caller would give up */
		while (!rediscall_send(2, argv, lens, probe_counted, t))
		{
			if (!rediscall_up())
				probe_fail("Redis went down during the pipeline");
			usleep(100);
		}
	}
	return NULL;
}

static void
probe_pipeline(long n)
{
	ProbeThread threads[PROBE_THREADS];
	const char *del[2] = {"DEL", PROBE_KEY};
	const char *get[2] = {"GET", PROBE_KEY};
	HttpRequest *req;
	int64_t		waited;
	int64_t		start;
	double		secs;
	long		done;
	long		bad = 0;
	int			i;

	req = probe_submit(2, del, 1000, &waited);
	if (probe_reply == NULL)
		probe_fail("DEL got no reply");
	probe_request_free(req);

	memset(threads, 0, sizeof(threads));
	start = timeutil_mono_us();
	for (i = 0; i < PROBE_THREADS; i++)
	{
		threads[i].n = n / PROBE_THREADS + (i < n % PROBE_THREADS);
		if (pthread_create(&threads[i].thread, NULL, probe_sender, &threads[i]) != 0)
			probe_fail("pthread_create");
	}
	for (i = 0; i < PROBE_THREADS; i++)
		pthread_join(threads[i].thread, NULL);
	do
	{
		done = 0;
		for (i = 0; i < PROBE_THREADS; i++)
			done += atomic_load(&threads[i].done);
		if (done < n)
			usleep(1000);
		if (timeutil_mono_us() - start > 60 * 1000000LL)
			probe_fail("callbacks missing after 60 s");
	} while (done < n);
	secs = (double) (timeutil_mono_us() - start) / 1e6;
	for (i = 0; i < PROBE_THREADS; i++)
		bad += atomic_load(&threads[i].bad);
	if (bad != 0)
		probe_fail("a callback without its reply, or out of order");

	req = probe_submit(2, get, 1000, &waited);
	if (probe_reply == NULL || probe_reply->type != REDIS_REPLY_STRING ||
		atol(probe_reply->str) != n)
		probe_fail("the counter is not N");
	probe_request_free(req);
	printf("ok %ld %.0f\n", n, (double) n / secs);
}

/* --- submit, down, frozen --------------------------------------------------- */

static void
probe_submits(void)
{
	const char *set_ex[5] = {"SET", "warden:probe:k", "value", "EX", "60"};
	const char *get[2] = {"GET", "warden:probe:k"};
	const char *bogus[1] = {"NOSUCHCOMMAND"};
	HttpRequest *req;
	int64_t		waited;

	req = probe_submit(5, set_ex, 1000, &waited);
	if (probe_reply == NULL || probe_reply->type != REDIS_REPLY_STATUS ||
		strcmp(probe_reply->str, "OK") != 0)
		probe_fail("SET ... EX: not OK");
	probe_request_free(req);
	req = probe_submit(2, get, 1000, &waited);
	if (probe_reply == NULL || probe_reply->type != REDIS_REPLY_STRING ||
		strcmp(probe_reply->str, "value") != 0)
		probe_fail("GET: not the value set");
	probe_request_free(req);
	req = probe_submit(1, bogus, 1000, &waited);
	if (probe_reply == NULL || probe_reply->type != REDIS_REPLY_ERROR)
		probe_fail("an unknown command: not an error reply");
	probe_request_free(req);
	if (!rediscall_up())
		probe_fail("an error reply took the connection down");
	printf("ok submit\n");
}

static void
probe_down(void)
{
	const char *get[2] = {"GET", "warden:probe:k"};
	size_t		lens[2] = {3, strlen(get[1])};
	HttpRequest *req;
	int64_t		waited;
	int64_t		start = timeutil_mono_ms();

	if (rediscall_up())
		probe_fail("Redis reads as up");
	if (rediscall_send(2, get, lens, NULL, NULL))
		probe_fail("rediscall_send queued a command while Redis is down");
	req = probe_submit(2, get, 5000, &waited);
	if (probe_reply != NULL)
		probe_fail("a reply while Redis is down");
	probe_request_free(req);
	printf("ok down %lld ms\n", (long long) (timeutil_mono_ms() - start));
}

static void
probe_frozen(int timeout_ms)
{
	const char *get[2] = {"GET", "warden:probe:k"};
	HttpRequest *req;
	int64_t		waited;

	req = probe_submit(2, get, timeout_ms, &waited);
	if (probe_reply != NULL)
		probe_fail("a reply from a frozen Redis");
	probe_request_free(req);
	if (rediscall_up())
		probe_fail("a frozen Redis still reads as up");
	printf("ok frozen %lld ms\n", (long long) waited);
}

int
main(int argc, char **argv)
{
	RedisUrl	url;
	char		err[CONFIG_ERROR_MAX];
	int64_t		deadline;

	if (argc < 3 || !config_parse_redis_url(argv[1], &url, err, sizeof(err)))
	{
		fprintf(stderr, "usage: rediscall_probe REDIS-URL pipeline N|submit|down|frozen\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_ERROR);
	if (!rediscall_start(&url, 200, err, sizeof(err)))
		probe_fail(err);
	/* the thread connects at once; give it a moment unless Redis is away */
	deadline = timeutil_mono_ms() + 2000;
	while (!rediscall_up() && timeutil_mono_ms() < deadline &&
		   strcmp(argv[2], "down") != 0)
		usleep(1000);
	if (strcmp(argv[2], "pipeline") == 0 && argc == 4)
		probe_pipeline(atol(argv[3]));
	else if (strcmp(argv[2], "submit") == 0)
		probe_submits();
	else if (strcmp(argv[2], "down") == 0)
		probe_down();
	else if (strcmp(argv[2], "frozen") == 0 && argc == 4)
	{
		/* connected before the test freezes Redis: it waits for the line */
		printf("connected\n");
		fflush(stdout);
		if (getchar() == EOF)
			probe_fail("no go");
		probe_frozen(atoi(argv[3]));
	}
	else
		probe_fail("unknown command");
	rediscall_stop();
	return 0;
}
