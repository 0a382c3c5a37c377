/*
 * redisconn.c
 *		hiredis connections with AUTH and SELECT done, and commands that
 *		never wait past a deadline.
 *
 * hiredis's blocking API bounds each socket operation (connect by
 * redisConnectWithTimeout, reads and writes by redisSetTimeout), not a
 * whole exchange; before every step the timeout is set to what is left of
 * the caller's deadline, so connect + AUTH + SELECT + PING together still
 * end in time.
 *
 * The password is sent in AUTH and nowhere else: no message here includes
 * it, and Redis's error replies to AUTH do not echo it.
 *
 * A rediss:// URL is reached through its local TLS tunnel (config.h): the
 * connection goes to the tunnel's loopback address in plain text and the
 * tunnel carries it to the server over TLS, verifying the server's
 * certificate. A tunnel that refuses the server closes the connection it
 * accepted, which reads here as a connection closed before PING's reply.
 *
 * No state of its own; a redisContext must be used by one thread at a time.
 */
#include "redisconn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "timeutil.h"

/* What is left of the deadline as a timeval; false if nothing is. */
static bool
redisconn_left(int64_t deadline_ms, struct timeval *tv)
{
	int64_t		left = deadline_ms - timeutil_mono_ms();

	if (left <= 0)
		return false;
	tv->tv_sec = (time_t) (left / 1000);
	tv->tv_usec = (suseconds_t) (left % 1000) * 1000;
	return true;
}

/* hiredis's error; a read that hit SO_RCVTIMEO reads as EAGAIN. */
static void
redisconn_error(const redisContext *c, const char *what, char *err,
				size_t errlen)
{
	if (c->err == REDIS_ERR_IO &&
		(errno == EAGAIN || errno == EWOULDBLOCK ||
		 strstr(c->errstr, "temporarily unavailable") != NULL))
		snprintf(err, errlen, "%s: timed out", what);
	else if (c->err != 0)
		snprintf(err, errlen, "%s: %s", what, c->errstr);
	else
		snprintf(err, errlen, "%s failed", what);
}

/*
 * Sends one command built by the caller's argv and checks the reply is a
 * status (OK, PONG); any other reply is reported with its text.
 */
static bool
redisconn_command(redisContext *c, int64_t deadline_ms, const char *what,
				  int argc, const char **argv, const char *want,
				  char *err, size_t errlen)
{
	struct timeval tv;
	redisReply *reply;
	bool		ok;

	if (!redisconn_left(deadline_ms, &tv))
	{
		snprintf(err, errlen, "%s: timed out", what);
		return false;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK)
	{
		redisconn_error(c, what, err, errlen);
		return false;
	}
	reply = redisCommandArgv(c, argc, argv, NULL);
	if (reply == NULL)
	{
		redisconn_error(c, what, err, errlen);
		return false;
	}
	ok = reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, want) == 0;
	if (!ok && reply->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "%s: %.*s", what, (int) reply->len, reply->str);
	else if (!ok)
		snprintf(err, errlen, "%s: unexpected reply", what);
	freeReplyObject(reply);
	return ok;
}

/* Connects, authenticates and selects the database within the deadline. */
redisContext *
redisconn_connect(const RedisUrl *url, int64_t deadline_ms, char *err,
				  size_t errlen)
{
	struct timeval tv;
	redisContext *c;
	const char *argv[3];
	char		db[16];
	int			argc = 0;
	const char *what = url->tls ? "connect to the TLS tunnel" : "connect";

	if (!redisconn_left(deadline_ms, &tv))
	{
		snprintf(err, errlen, "%s: timed out", what);
		return NULL;
	}
	if (url->tls)
		c = redisConnectWithTimeout(url->tunnel_host, url->tunnel_port, tv);
	else
		c = redisConnectWithTimeout(url->host, url->port, tv);
	if (c == NULL)
	{
		snprintf(err, errlen, "%s: out of memory", what);
		return NULL;
	}
	if (c->err != 0)
	{
		redisconn_error(c, what, err, errlen);
		redisFree(c);
		return NULL;
	}
	if (url->has_password)
	{
		argv[argc++] = "AUTH";
		if (url->has_user)
			argv[argc++] = url->user;
		argv[argc++] = url->password;
		if (!redisconn_command(c, deadline_ms, "AUTH", argc, argv, "OK",
							   err, errlen))
		{
			redisFree(c);
			return NULL;
		}
	}
	if (url->db != 0)
	{
		snprintf(db, sizeof(db), "%d", url->db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (!redisconn_command(c, deadline_ms, "SELECT", 2, argv, "OK",
							   err, errlen))
		{
			redisFree(c);
			return NULL;
		}
	}
	return c;
}

/*
 * PING within the deadline. On false the context may be unusable: the
 * caller frees it and connects afresh.
 */
bool
redisconn_ping(redisContext *c, int64_t deadline_ms, char *err, size_t errlen)
{
	const char *argv[] = {"PING"};

	return redisconn_command(c, deadline_ms, "PING", 1, argv, "PONG",
							 err, errlen);
}
