/*
 * pgstart.c
 *		PostgreSQL connections made on a thread of their own (see
 *		pgstart.h).
 */
#include "pgstart.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"

typedef struct PgStart
{
	PgStarts   *starts;
	PgStartDone done;
	void	   *arg;
	int64_t		deadline_ms;
	char		conninfo[];
} PgStart;

/* One entry of a host list: a socket directory or an address, not a name. */
static bool
pgstart_literal(const char *host, size_t len)
{
	char		buf[64];
	unsigned char addr[16];

	if (len == 0 || host[0] == '/' || host[0] == '@')
		return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

bool
pgstart_needed(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = NULL;
	const char *hostaddr = NULL;
	bool		needed = false;

	/* unparsable: PQconnectStart fails at once, without resolving */
	if (opts == NULL)
		return false;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	/* what libpq falls back to */
	if (host == NULL || host[0] == '\0')
		host = getenv("PGHOST");
	if (hostaddr == NULL || hostaddr[0] == '\0')
		hostaddr = getenv("PGHOSTADDR");
	if (host != NULL && (hostaddr == NULL || hostaddr[0] == '\0'))
	{
		for (const char *h = host; !needed; h++)
		{
			size_t		len = strcspn(h, ",");

			needed = !pgstart_literal(h, len);
			h += len;
			if (*h == '\0')
				break;
		}
	}
	PQconninfoFree(opts);
	return needed;
}

bool
pgstart_init(PgStarts *starts)
{
	starts->running = 0;
	if (pthread_mutex_init(&starts->lock, NULL) != 0)
		return false;
	if (pthread_cond_init(&starts->idle, NULL) != 0)
	{
		pthread_mutex_destroy(&starts->lock);
		return false;
	}
	return true;
}

static void *
pgstart_main(void *arg)
{
	PgStart    *st = arg;
	PgStarts   *starts = st->starts;
	char		err[256] = "";
	PGconn	   *conn = pgconn_connect(st->conninfo, st->deadline_ms, err, sizeof(err));

	st->done(st->arg, conn, err);
	free(st);
	/* last: once pgstart_wait returns, no start touches its owner */
	pthread_mutex_lock(&starts->lock);
	if (--starts->running == 0)
		pthread_cond_broadcast(&starts->idle);
	pthread_mutex_unlock(&starts->lock);
	return NULL;
}

bool
pgstart_begin(PgStarts *starts, const char *conninfo, int64_t deadline_ms,
			  PgStartDone done, void *arg, char *err, size_t errlen)
{
	size_t		len = strlen(conninfo);
	PgStart    *st = malloc(sizeof(*st) + len + 1);
	pthread_attr_t attr;
	pthread_t	thread;
	int			rc;

	if (st == NULL)
	{
		snprintf(err, errlen, "connect: out of memory");
		return false;
	}
	st->starts = starts;
	st->done = done;
	st->arg = arg;
	st->deadline_ms = deadline_ms;
	memcpy(st->conninfo, conninfo, len + 1);
	if (pthread_attr_init(&attr) != 0)
	{
		free(st);
		snprintf(err, errlen, "connect: no thread attributes");
		return false;
	}
	(void) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&starts->lock);
	starts->running++;
	pthread_mutex_unlock(&starts->lock);
	rc = pthread_create(&thread, &attr, pgstart_main, st);
	pthread_attr_destroy(&attr);
	if (rc != 0)
	{
		pthread_mutex_lock(&starts->lock);
		if (--starts->running == 0)
			pthread_cond_broadcast(&starts->idle);
		pthread_mutex_unlock(&starts->lock);
		free(st);
		snprintf(err, errlen, "connect: could not start a thread: %s", strerror(rc));
		return false;
	}
	return true;
}

void
pgstart_wait(PgStarts *starts)
{
	pthread_mutex_lock(&starts->lock);
	while (starts->running > 0)
		pthread_cond_wait(&starts->idle, &starts->lock);
	pthread_mutex_unlock(&starts->lock);
}

void
pgstart_destroy(PgStarts *starts)
{
	pthread_cond_destroy(&starts->idle);
	pthread_mutex_destroy(&starts->lock);
}
