/*
 * amqp_common.c
 *		Code the AMQP helper programs share (see amqp_common.h): one copy,
 *		so a fix to connecting, timeouts or error reports reaches the tests'
 *		consumer and the benchmark's publisher alike.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "amqp_common.h"

/* --- clocks and options ------------------------------------------------------ */

uint64_t
tool_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer; be loud if it does */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
	{
		fprintf(stderr, "%s: clock_gettime: %s\n", tool_progname,
				strerror(errno));
		exit(TOOL_EXIT_LOCAL);
	}
	return (uint64_t) ts.tv_sec * TOOL_NS_PER_S + (uint64_t) ts.tv_nsec;
}

int64_t
tool_now_ms(void)
{
	return (int64_t) (tool_now_ns() / TOOL_NS_PER_MS);
}

/* a timeout for the library or setitimer; a deadline already past is 0 */
struct timeval
tool_timeval(int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t) (ms / 1000);
	tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
	return tv;
}

/*
 * Runs getopt_long over argv (long options only).  --url and --cacert go
 * to *broker (the CA bundle defaults to the system's); every other option
 * goes with its value to take(), which says whether the value is good and
 * prints why not.  --help prints usage to stdout and exits 0 at once, as a
 * help request wants nothing else done.  False (with a message) on a bad
 * or unknown option or a stray argument; the caller then checks what is
 * required (--url among it) and prints its usage.
 */
bool
tool_parse_args(int argc, char **argv, const struct option *longopts,
				tool_broker *broker, tool_take_option take, void *ctx,
				void (*usage) (FILE *f))
{
	int			c;

	broker->url = NULL;
	broker->cacert = TOOL_DEFAULT_CACERT;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'u':
				broker->url = optarg;
				break;
			case 'c':
				broker->cacert = optarg;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			case '?':
				/* getopt_long said what was wrong */
				return false;
			default:
				if (!take(c, optarg, ctx))
					return false;
				break;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "%s: unexpected argument: %s\n", tool_progname,
				argv[optind]);
		return false;
	}
	return true;
}

/* a whole decimal number in [min, max], nothing else around it */
bool
tool_parse_long(const char *s, long min, long max, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* a number in (0, max] */
bool
tool_parse_positive_double(const char *s, double max, double *out)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	/* written this way round, NaN fails too */
	if (errno != 0 || end == s || *end != '\0' || !(v > 0 && v <= max))
		return false;
	*out = v;
	return true;
}

/*
 * The value of option name (e.g. "--count") in [min, max]; false after
 * "<progname>: <name>: expected <expected>" if arg is not one.
 */
bool
tool_option_long(const char *name, const char *arg, long min, long max,
				 const char *expected, long *out)
{
	if (tool_parse_long(arg, min, max, out))
		return true;
	fprintf(stderr, "%s: %s: expected %s\n", tool_progname, name, expected);
	return false;
}

/* The same for a number in (0, max]. */
bool
tool_option_double(const char *name, const char *arg, double max,
				   const char *expected, double *out)
{
	if (tool_parse_positive_double(arg, max, out))
		return true;
	fprintf(stderr, "%s: %s: expected %s\n", tool_progname, name, expected);
	return false;
}

/* --- the watchdog --------------------------------------------------------------- */

/*
 * rabbitmq-c sends without a deadline, so a broker that stops reading (a
 * resource alarm, a frozen host) could block a send forever; every wait of
 * the programs has a timeout, and the watchdog bounds the sends too.  The
 * message is put together beforehand: a signal handler may only write().
 */
static char watchdog_msg[256];
static size_t watchdog_len;
static int	watchdog_status;

static void
watchdog_fired(int signo)
{
	(void) signo;
	/* nothing sensible is left to do if stderr is gone */
	if (write(STDERR_FILENO, watchdog_msg, watchdog_len) < 0)
		_exit(watchdog_status);
	_exit(watchdog_status);
}

/*
 * Makes SIGALRM print "<progname>: watchdog: <why>" and exit with status;
 * false (errno set) if the handler cannot be installed.  Arm it with
 * tool_watchdog_arm.
 */
bool
tool_watchdog_install(const char *why, int status)
{
	struct sigaction sa;
	int			n;

	n = snprintf(watchdog_msg, sizeof(watchdog_msg), "%s: watchdog: %s\n",
				 tool_progname, why);
	if (n < 0)
		return false;
	/* a longer text is cut; the callers' are far shorter */
	watchdog_len = (size_t) n < sizeof(watchdog_msg) ?
		(size_t) n : sizeof(watchdog_msg) - 1;
	watchdog_status = status;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fired;
	if (sigemptyset(&sa.sa_mask) != 0)
		return false;
	return sigaction(SIGALRM, &sa, NULL) == 0;
}

/* (Re)starts the watchdog's countdown; false (errno set) on failure. */
bool
tool_watchdog_arm(int64_t ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value = tool_timeval(ms);
	return setitimer(ITIMER_REAL, &it, NULL) == 0;
}

/* --- broker errors ------------------------------------------------------------ */

/* Text of a failed RPC reply, for "<what>: <text>" messages. */
static void
describe_reply(amqp_rpc_reply_t r, char *buf, size_t len)
{
	switch (r.reply_type)
	{
		case AMQP_RESPONSE_NORMAL:
			snprintf(buf, len, "no error");
			break;
		case AMQP_RESPONSE_NONE:
			snprintf(buf, len, "no reply from the broker");
			break;
		case AMQP_RESPONSE_LIBRARY_EXCEPTION:
			snprintf(buf, len, "%s", amqp_error_string2(r.library_error));
			break;
		case AMQP_RESPONSE_SERVER_EXCEPTION:
			if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
			{
				amqp_connection_close_t *m = r.reply.decoded;

				snprintf(buf, len, "broker closed the connection: %u %.*s",
						 (unsigned) m->reply_code, (int) m->reply_text.len,
						 (const char *) m->reply_text.bytes);
			}
			else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
			{
				amqp_channel_close_t *m = r.reply.decoded;

				snprintf(buf, len, "broker closed the channel: %u %.*s",
						 (unsigned) m->reply_code, (int) m->reply_text.len,
						 (const char *) m->reply_text.bytes);
			}
			else
				snprintf(buf, len, "unexpected broker method 0x%08x",
						 (unsigned) r.reply.id);
			break;
	}
}

/* true if the RPC just made succeeded, else prints "what: why" */
bool
tool_rpc_ok(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	char		why[512];

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	describe_reply(r, why, sizeof(why));
	fprintf(stderr, "%s: %s: %s\n", tool_progname, what, why);
	return false;
}

/* Reports a close method the broker sent; false if the frame is not one. */
bool
tool_report_close(const amqp_frame_t *frame)
{
	if (frame->frame_type != AMQP_FRAME_METHOD)
		return false;
	if (frame->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)
	{
		amqp_connection_close_t *m = frame->payload.method.decoded;

		fprintf(stderr, "%s: broker closed the connection: %u %.*s\n",
				tool_progname, (unsigned) m->reply_code,
				(int) m->reply_text.len, (const char *) m->reply_text.bytes);
		return true;
	}
	if (frame->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)
	{
		amqp_channel_close_t *m = frame->payload.method.decoded;

		fprintf(stderr, "%s: broker closed the channel: %u %.*s\n",
				tool_progname, (unsigned) m->reply_code,
				(int) m->reply_text.len, (const char *) m->reply_text.bytes);
		return true;
	}
	return false;
}

/*
 * Answers a close the broker sent, so it logs a clean shutdown rather than
 * an abrupt one.  Best effort: the connection is going away anyway.
 */
void
tool_answer_close(amqp_connection_state_t conn, const amqp_frame_t *frame)
{
	if (frame->frame_type != AMQP_FRAME_METHOD)
		return;
	if (frame->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)
	{
		amqp_connection_close_ok_t ok;

		memset(&ok, 0, sizeof(ok));
		(void) amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
	}
	else if (frame->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)
	{
		amqp_channel_close_ok_t ok;

		memset(&ok, 0, sizeof(ok));
		(void) amqp_send_method(conn, frame->channel,
								AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	}
}

/* --- connections ------------------------------------------------------------------ */

/*
 * Connects, logs in and opens TOOL_CHANNEL; NULL (with a message) on
 * failure.  timeout_ms bounds the TCP (and TLS) connect and the login
 * handshake each.  client_props, if not NULL, go to the broker with the
 * login (the library merges them into its own).  *ssl, if ssl is not NULL,
 * tells whether the URL asked for TLS.
 *
 * No heartbeats: every wait of the programs is short and has its own
 * timeout, the watchdog covers sends, and the benchmark should measure
 * publishing alone.  The URL is never echoed: it carries the password.
 */
amqp_connection_state_t
tool_connect(const tool_broker *broker, int64_t timeout_ms,
			 const amqp_table_t *client_props, bool *ssl)
{
	struct amqp_connection_info ci;
	amqp_connection_state_t conn = NULL;
	amqp_socket_t *sock;
	struct timeval tv = tool_timeval(timeout_ms);
	struct timeval rpc_tv = tool_timeval(TOOL_RPC_TIMEOUT_MS);
	amqp_rpc_reply_t r;
	char		why[512];
	char	   *buf;
	int			rc;

	/* amqp_parse_url cuts the string it parses into pieces */
	buf = strdup(broker->url);
	if (buf == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", tool_progname);
		return NULL;
	}
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK)
	{
		fprintf(stderr, "%s: invalid --url (expected "
				"amqp[s]://user:password@host:port/vhost)\n", tool_progname);
		goto fail;
	}
	if (ssl != NULL)
		*ssl = ci.ssl;

	conn = amqp_new_connection();
	if (conn == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", tool_progname);
		goto fail;
	}
	sock = ci.ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
	if (sock == NULL)
	{
		fprintf(stderr, "%s: cannot create a %s socket\n", tool_progname,
				ci.ssl ? "TLS" : "TCP");
		goto fail;
	}
	if (ci.ssl)
	{
		rc = amqp_ssl_socket_set_cacert(sock, broker->cacert);
		if (rc != AMQP_STATUS_OK)
		{
			fprintf(stderr, "%s: cannot load CA certificates from %s: %s\n",
					tool_progname, broker->cacert, amqp_error_string2(rc));
			goto fail;
		}
	}

	rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, "%s: cannot connect to %s:%d: %s\n", tool_progname,
				ci.host, ci.port, amqp_error_string2(rc));
		goto fail;
	}
	rc = amqp_set_handshake_timeout(conn, &tv);
	if (rc == AMQP_STATUS_OK)
		rc = amqp_set_rpc_timeout(conn, &rpc_tv);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, "%s: cannot set timeouts: %s\n", tool_progname,
				amqp_error_string2(rc));
		goto fail;
	}

	/* plain amqp_login without properties: it sends the library's alone */
	if (client_props != NULL)
		r = amqp_login_with_properties(conn, ci.vhost, 0,
									   AMQP_DEFAULT_FRAME_SIZE, 0,
									   client_props, AMQP_SASL_METHOD_PLAIN,
									   ci.user, ci.password);
	else
		r = amqp_login(conn, ci.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0,
					   AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		describe_reply(r, why, sizeof(why));
		fprintf(stderr, "%s: cannot log in to %s:%d vhost \"%s\" as \"%s\": %s\n",
				tool_progname, ci.host, ci.port, ci.vhost, ci.user, why);
		goto fail;
	}
	if (amqp_channel_open(conn, TOOL_CHANNEL) == NULL &&
		!tool_rpc_ok(conn, "cannot open a channel"))
		goto fail;

	free(buf);
	return conn;

fail:
	/* the socket belongs to the connection and goes with it */
	if (conn != NULL)
		tool_abandon(conn);
	free(buf);
	return NULL;
}

/*
 * Closes cleanly after a successful run; false (with a message) if not.
 * close_channel closes TOOL_CHANNEL first, and only goes on to close the
 * connection if that worked; closing the connection alone closes the
 * channel too (and requeues what a consumer did not acknowledge).
 */
bool
tool_close(amqp_connection_state_t conn, bool close_channel)
{
	amqp_rpc_reply_t r;
	char		why[512];
	bool		ok = true;
	int			rc;

	if (close_channel)
	{
		r = amqp_channel_close(conn, TOOL_CHANNEL, AMQP_REPLY_SUCCESS);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
		{
			describe_reply(r, why, sizeof(why));
			fprintf(stderr, "%s: cannot close the channel: %s\n",
					tool_progname, why);
			ok = false;
		}
	}
	if (ok)
	{
		r = amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
		{
			describe_reply(r, why, sizeof(why));
			fprintf(stderr, "%s: cannot close the connection: %s\n",
					tool_progname, why);
			ok = false;
		}
	}
	rc = amqp_destroy_connection(conn);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, "%s: cannot tear down the connection: %s\n",
				tool_progname, amqp_error_string2(rc));
		ok = false;
	}
	return ok;
}

/* Teardown after an error: no handshake, the broker or socket is gone. */
void
tool_abandon(amqp_connection_state_t conn)
{
	if (amqp_destroy_connection(conn) != AMQP_STATUS_OK)
		fprintf(stderr, "%s: cannot tear down the connection\n",
				tool_progname);
}

/*
 * The next frame, waiting at most ms (0: only what already arrived); the
 * library's status, AMQP_STATUS_TIMEOUT if none came.  Prints nothing:
 * what a missing frame means depends on what the caller waits for.
 */
int
tool_wait_frame(amqp_connection_state_t conn, amqp_frame_t *frame, int64_t ms)
{
	struct timeval tv = tool_timeval(ms);

	return amqp_simple_wait_frame_noblock(conn, frame, &tv);
}
