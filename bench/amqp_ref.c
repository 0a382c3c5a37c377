/*
 * amqp_ref.c
 *		The benchmark's ceiling: a plain rabbitmq-c publisher with publisher
 *		confirms, doing the least a reliable publisher can do, so the
 *		outbox relay's numbers can be read against it.
 *
 * Usage:
 *   amqp_ref --url URL --exchange X --routing-key K [--routing-keys N]
 *            [--size BYTES (256)] [--batch N (100)] [--messages M]
 *            [--rate R] [--seconds S] [--cacert FILE]
 *
 * One connection, one channel in confirm mode.  Every message is
 * persistent and mandatory, with a random UUID as message_id, content type
 * application/json, a unix-seconds timestamp, the header {"source":"bench"}
 * and a JSON body of exactly BYTES bytes ({"pad":"xxx..."}).  With
 * --routing-keys N the routing key cycles over K.0 .. K.N-1.
 *
 * Throughput mode (no --rate): publishes batches of --batch messages and
 * waits until the broker confirmed the whole batch before the next, until
 * --messages were sent or --seconds passed (at least one of them is
 * needed).  Prints
 *   msgs_per_sec=<confirmed/elapsed> messages=<published> failed=<n>
 *
 * Rate mode (--rate R): publishes one message every 1/R s on a fixed
 * schedule for --seconds (default 10; --messages caps it too), without
 * waiting for confirms in between, then waits at most 10 s for the
 * outstanding ones.  Latency runs from the publish call to the confirm.
 * Prints
 *   p50_ms=<float> p99_ms=<float> messages=<published> failed=<n>
 *
 * failed counts nacks, basic.returns (unroutable: the mandatory flag) and
 * messages never confirmed; the returns are also described on stderr.
 *
 * Exit status: 0 every message confirmed, 1 usage or local error, 2
 * connection or broker error (no result line), 3 some messages failed (the
 * result line is printed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#define PROG				"amqp_ref"
#define CHANNEL				1
#define NS_PER_MS			((uint64_t) 1000000)
#define NS_PER_S			((uint64_t) 1000000000)
#define CONNECT_TIMEOUT_MS	10000
#define RPC_TIMEOUT_MS		15000
/* a batch whose confirms stop coming for this long is given up */
#define CONFIRM_STALL_NS	(30 * NS_PER_S)
/* rate mode: how long to wait for the last confirms */
#define DRAIN_NS			(10 * NS_PER_S)
/* bounds blocking sends, which rabbitmq-c does without a deadline */
#define WATCHDOG_MS			60000
/* rate mode: most messages awaiting a confirm at once */
#define RATE_WINDOW			((uint64_t) 1 << 20)
#define MAX_SIZE			(128L * 1024 * 1024)
#define MAX_RETURNS_SHOWN	5
#define DEFAULT_CACERT		"/etc/ssl/certs/ca-certificates.crt"

#define EXIT_USAGE			1
#define EXIT_LOCAL			1
#define EXIT_BROKER			2
#define EXIT_FAILED			3

typedef struct options
{
	const char *url;
	const char *exchange;
	const char *routing_key;
	const char *cacert;
	long		routing_keys;	/* 0: K itself */
	long		size;
	long		batch;
	long		messages;		/* 0: no limit */
	double		rate;			/* 0: throughput mode */
	double		seconds;		/* 0: no limit */
} options;

/*
 * Publisher-confirm bookkeeping.  Delivery tags count every publish on the
 * channel from 1; the broker confirms them singly or "everything up to
 * this tag" (multiple), in any order in principle.  Tags in [low,
 * next_tag) live in a ring of cap (a power of two) slots, so cap bounds
 * how many may be outstanding.
 */
typedef struct tracker
{
	uint64_t	next_tag;		/* the tag the next publish gets */
	uint64_t	low;			/* lowest tag not confirmed yet */
	uint64_t	cap;
	uint64_t	pending;		/* published, not confirmed */
	uint64_t   *sent_ns;		/* per slot: when the publish call started */
	bool	   *waiting;		/* per slot: not confirmed yet */
	uint64_t	acked;
	uint64_t	nacked;
	/* rate mode: latency of every confirm, in ms */
	bool		record;
	double	   *lat;
	size_t		nlat;
	size_t		lat_cap;
} tracker;

typedef struct publisher
{
	amqp_connection_state_t conn;
	const options *opt;
	tracker		t;
	uint64_t	published;
	uint64_t	returned;
	uint64_t	unconfirmed;	/* given up on */
	/* a basic.return brings the message back: header and body to skip */
	bool		want_header;
	uint64_t	body_left;
	bool		ssl;
	bool		closed_by_broker;
	/* the message, rebuilt per publish where it changes */
	amqp_bytes_t body;
	char	   *key;			/* routing key buffer */
	size_t		key_size;
	uint64_t	rng;
} publisher;

/* --- small helpers ---------------------------------------------------------- */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
	{
		perror(PROG ": clock_gettime");
		exit(EXIT_LOCAL);
	}
	return (uint64_t) ts.tv_sec * NS_PER_S + (uint64_t) ts.tv_nsec;
}

static struct timeval
ms_to_timeval(long ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t) (ms / 1000);
	tv.tv_usec = (suseconds_t) ((ms % 1000) * 1000);
	return tv;
}

static void
watchdog_fired(int signo)
{
	static const char msg[] =
		PROG ": watchdog: no progress for 60 s (broker blocked?), giving up\n";

	(void) signo;
	/* nothing sensible is left to do if stderr is gone */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(EXIT_BROKER);
	_exit(EXIT_BROKER);
}

/*
 * Re-armed at every step of every loop: waits have their own timeouts,
 * but a send to a broker that stopped reading (a resource alarm) blocks.
 */
static void
arm_watchdog(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value = ms_to_timeval(WATCHDOG_MS);
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
	{
		perror(PROG ": setitimer");
		exit(EXIT_LOCAL);
	}
}

static bool
parse_long(const char *s, long min, long max, long *out)
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

static bool
parse_positive_double(const char *s, double max, double *out)
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

/* splitmix64: message ids need to be unique, not secret */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* a version 4 UUID in its 36-character text form */
static void
make_uuid(uint64_t *rng, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t	hi = next_random(rng);
	uint64_t	lo = next_random(rng);
	int			i;
	int			o = 0;

	for (i = 0; i < 8; i++)
	{
		b[i] = (unsigned char) (hi >> (8 * i));
		b[8 + i] = (unsigned char) (lo >> (8 * i));
	}
	b[6] = (unsigned char) ((b[6] & 0x0F) | 0x40);	/* version 4 */
	b[8] = (unsigned char) ((b[8] & 0x3F) | 0x80);	/* RFC 4122 variant */
	for (i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0F];
	}
	out[o] = '\0';
}

/* --- broker errors and connection ------------------------------------------- */

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

static bool
rpc_ok(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	char		why[512];

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	describe_reply(r, why, sizeof(why));
	fprintf(stderr, PROG ": %s: %s\n", what, why);
	return false;
}

/*
 * Connects, logs in and opens CHANNEL; NULL (with a message) on failure.
 * The URL is never echoed: it carries the password.
 */
static amqp_connection_state_t
broker_connect(const char *url, const char *cacert, bool *ssl)
{
	struct amqp_connection_info ci;
	amqp_connection_state_t conn = NULL;
	amqp_socket_t *sock;
	struct timeval tv = ms_to_timeval(CONNECT_TIMEOUT_MS);
	struct timeval rpc_tv = ms_to_timeval(RPC_TIMEOUT_MS);
	amqp_rpc_reply_t r;
	char		why[512];
	char	   *buf;
	int			rc;

	/* amqp_parse_url cuts the string it parses into pieces */
	buf = strdup(url);
	if (buf == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return NULL;
	}
	amqp_default_connection_info(&ci);
	if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": invalid --url (expected "
				"amqp[s]://user:password@host:port/vhost)\n");
		goto fail;
	}
	*ssl = ci.ssl;

	conn = amqp_new_connection();
	if (conn == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		goto fail;
	}
	sock = ci.ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
	if (sock == NULL)
	{
		fprintf(stderr, PROG ": cannot create a %s socket\n",
				ci.ssl ? "TLS" : "TCP");
		goto fail;
	}
	if (ci.ssl)
	{
		rc = amqp_ssl_socket_set_cacert(sock, cacert);
		if (rc != AMQP_STATUS_OK)
		{
			fprintf(stderr, PROG ": cannot load CA certificates from %s: %s\n",
					cacert, amqp_error_string2(rc));
			goto fail;
		}
	}

	rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": cannot connect to %s:%d: %s\n",
				ci.host, ci.port, amqp_error_string2(rc));
		goto fail;
	}
	rc = amqp_set_handshake_timeout(conn, &tv);
	if (rc == AMQP_STATUS_OK)
		rc = amqp_set_rpc_timeout(conn, &rpc_tv);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": cannot set timeouts: %s\n",
				amqp_error_string2(rc));
		goto fail;
	}

	/*
	 * No heartbeats: the benchmark should measure publishing alone, every
	 * wait has a timeout, and the watchdog covers sends.
	 */
	r = amqp_login(conn, ci.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0,
				   AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		describe_reply(r, why, sizeof(why));
		fprintf(stderr, PROG ": cannot log in to %s:%d vhost \"%s\" as \"%s\": %s\n",
				ci.host, ci.port, ci.vhost, ci.user, why);
		goto fail;
	}
	if (amqp_channel_open(conn, CHANNEL) == NULL &&
		!rpc_ok(conn, "cannot open a channel"))
		goto fail;
	if (amqp_confirm_select(conn, CHANNEL) == NULL &&
		!rpc_ok(conn, "cannot enable publisher confirms"))
		goto fail;

	free(buf);
	return conn;

fail:
	/* the socket belongs to the connection and goes with it */
	if (conn != NULL && amqp_destroy_connection(conn) != AMQP_STATUS_OK)
		fprintf(stderr, PROG ": cannot tear down the connection\n");
	free(buf);
	return NULL;
}

/* Closes cleanly after a run; false (with a message) if that failed. */
static bool
broker_close(amqp_connection_state_t conn)
{
	amqp_rpc_reply_t r;
	char		why[512];
	bool		ok = true;
	int			rc;

	r = amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		describe_reply(r, why, sizeof(why));
		fprintf(stderr, PROG ": cannot close the channel: %s\n", why);
		ok = false;
	}
	else
	{
		r = amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
		if (r.reply_type != AMQP_RESPONSE_NORMAL)
		{
			describe_reply(r, why, sizeof(why));
			fprintf(stderr, PROG ": cannot close the connection: %s\n", why);
			ok = false;
		}
	}
	rc = amqp_destroy_connection(conn);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": cannot tear down the connection: %s\n",
				amqp_error_string2(rc));
		ok = false;
	}
	return ok;
}

/* --- confirms ------------------------------------------------------------------ */

static bool
tracker_init(tracker *t, uint64_t min_cap, bool record)
{
	memset(t, 0, sizeof(*t));
	t->cap = 1;
	while (t->cap < min_cap)
		t->cap <<= 1;
	t->next_tag = 1;
	t->low = 1;
	t->record = record;
	t->sent_ns = malloc(t->cap * sizeof(*t->sent_ns));
	t->waiting = calloc(t->cap, sizeof(*t->waiting));
	if (t->sent_ns == NULL || t->waiting == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return false;
	}
	return true;
}

static void
tracker_free(tracker *t)
{
	free(t->sent_ns);
	free(t->waiting);
	free(t->lat);
}

static bool
tracker_full(const tracker *t)
{
	return t->next_tag - t->low >= t->cap;
}

static void
tracker_sent(tracker *t, uint64_t sent_ns)
{
	uint64_t	slot = t->next_tag & (t->cap - 1);

	t->sent_ns[slot] = sent_ns;
	t->waiting[slot] = true;
	t->next_tag++;
	t->pending++;
}

static bool
record_latency(tracker *t, double ms)
{
	if (t->nlat == t->lat_cap)
	{
		size_t		cap = t->lat_cap ? t->lat_cap * 2 : 4096;
		double	   *lat = realloc(t->lat, cap * sizeof(*lat));

		if (lat == NULL)
		{
			fprintf(stderr, PROG ": out of memory\n");
			return false;
		}
		t->lat = lat;
		t->lat_cap = cap;
	}
	t->lat[t->nlat++] = ms;
	return true;
}

/* a basic.ack (ok) or basic.nack from the broker */
static bool
tracker_confirm(tracker *t, uint64_t tag, bool multiple, bool ok)
{
	uint64_t	now = t->record ? now_ns() : 0;
	uint64_t	from = multiple ? t->low : tag;
	uint64_t	i;

	if (tag >= t->next_tag || tag == 0)
	{
		fprintf(stderr, PROG ": protocol error: confirm for tag %llu, only "
				"%llu published\n", (unsigned long long) tag,
				(unsigned long long) (t->next_tag - 1));
		return false;
	}
	/* tags below low were confirmed already; a repeat changes nothing */
	for (i = from < t->low ? t->low : from; i <= tag; i++)
	{
		uint64_t	slot = i & (t->cap - 1);

		if (!t->waiting[slot])
			continue;
		t->waiting[slot] = false;
		t->pending--;
		if (ok)
			t->acked++;
		else
			t->nacked++;
		if (t->record &&
			!record_latency(t, (double) (now - t->sent_ns[slot]) / (double) NS_PER_MS))
			return false;
	}
	while (t->low < t->next_tag && !t->waiting[t->low & (t->cap - 1)])
		t->low++;
	return true;
}

/* --- frames -------------------------------------------------------------------- */

/* Handles one frame from the broker; false (with a message) if fatal. */
static bool
handle_frame(publisher *p, const amqp_frame_t *f)
{
	if (f->frame_type == AMQP_FRAME_HEADER)
	{
		if (!p->want_header || f->channel != CHANNEL)
		{
			fprintf(stderr, PROG ": protocol error: unexpected content header\n");
			return false;
		}
		p->want_header = false;
		p->body_left = f->payload.properties.body_size;
		return true;
	}
	if (f->frame_type == AMQP_FRAME_BODY)
	{
		if (p->want_header || f->channel != CHANNEL ||
			f->payload.body_fragment.len > p->body_left)
		{
			fprintf(stderr, PROG ": protocol error: unexpected content body\n");
			return false;
		}
		p->body_left -= f->payload.body_fragment.len;
		return true;
	}
	if (f->frame_type != AMQP_FRAME_METHOD)
		return true;			/* heartbeats are the library's */

	switch (f->payload.method.id)
	{
		case AMQP_CONNECTION_CLOSE_METHOD:
			{
				amqp_connection_close_t *m = f->payload.method.decoded;
				amqp_connection_close_ok_t ok;

				fprintf(stderr, PROG ": broker closed the connection: %u %.*s\n",
						(unsigned) m->reply_code, (int) m->reply_text.len,
						(const char *) m->reply_text.bytes);
				/* best effort: the connection is gone either way */
				memset(&ok, 0, sizeof(ok));
				(void) amqp_send_method(p->conn, 0,
										AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
				p->closed_by_broker = true;
				return false;
			}
		case AMQP_CHANNEL_CLOSE_METHOD:
			{
				amqp_channel_close_t *m = f->payload.method.decoded;
				amqp_channel_close_ok_t ok;

				fprintf(stderr, PROG ": broker closed the channel: %u %.*s\n",
						(unsigned) m->reply_code, (int) m->reply_text.len,
						(const char *) m->reply_text.bytes);
				memset(&ok, 0, sizeof(ok));
				(void) amqp_send_method(p->conn, f->channel,
										AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
				p->closed_by_broker = true;
				return false;
			}
		default:
			break;
	}

	/* AMQP does not interleave a method into a message's content */
	if (p->want_header || p->body_left > 0)
	{
		fprintf(stderr, PROG ": protocol error: method 0x%08x inside a "
				"returned message\n", (unsigned) f->payload.method.id);
		return false;
	}

	switch (f->payload.method.id)
	{
		case AMQP_BASIC_ACK_METHOD:
			{
				amqp_basic_ack_t *m = f->payload.method.decoded;

				return tracker_confirm(&p->t, m->delivery_tag, m->multiple, true);
			}
		case AMQP_BASIC_NACK_METHOD:
			{
				amqp_basic_nack_t *m = f->payload.method.decoded;

				return tracker_confirm(&p->t, m->delivery_tag, m->multiple, false);
			}
		case AMQP_BASIC_RETURN_METHOD:
			{
				amqp_basic_return_t *m = f->payload.method.decoded;

				/* the broker still acks a returned message, after this */
				if (p->returned < MAX_RETURNS_SHOWN)
					fprintf(stderr, PROG ": message returned: %u %.*s "
							"(exchange \"%.*s\", routing key \"%.*s\")\n",
							(unsigned) m->reply_code, (int) m->reply_text.len,
							(const char *) m->reply_text.bytes,
							(int) m->exchange.len, (const char *) m->exchange.bytes,
							(int) m->routing_key.len,
							(const char *) m->routing_key.bytes);
				p->returned++;
				p->want_header = true;
				return true;
			}
		default:
			/* nothing else concerns a publisher */
			return true;
	}
}

/* Handles every frame that already arrived, without waiting. */
static bool
drain_ready(publisher *p)
{
	for (;;)
	{
		amqp_frame_t frame;
		struct timeval zero = {0, 0};
		int			rc;

		/* handle_frame keeps nothing from a frame: recycle its memory */
		amqp_maybe_release_buffers(p->conn);
		rc = amqp_simple_wait_frame_noblock(p->conn, &frame, &zero);
		if (rc == AMQP_STATUS_TIMEOUT)
			return true;
		if (rc != AMQP_STATUS_OK)
		{
			fprintf(stderr, PROG ": lost the connection: %s\n",
					amqp_error_string2(rc));
			return false;
		}
		if (!handle_frame(p, &frame))
			return false;
	}
}

/*
 * Waits up to timeout_ns for data from the broker, then handles all of
 * it.  ppoll, not the library's own wait, because that one rounds down to
 * whole milliseconds and would spin through the sub-millisecond gaps of
 * rate mode.  Under TLS, OpenSSL may hold decrypted data poll cannot see,
 * so the wait is kept short there.
 */
static bool
wait_and_drain(publisher *p, uint64_t timeout_ns)
{
	uint64_t	cap = p->ssl ? NS_PER_MS : 50 * NS_PER_MS;

	if (timeout_ns > cap)
		timeout_ns = cap;
	if (timeout_ns > 0 &&
		!amqp_frames_enqueued(p->conn) && !amqp_data_in_buffer(p->conn))
	{
		struct pollfd pfd;
		struct timespec ts;

		pfd.fd = amqp_get_sockfd(p->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		ts.tv_sec = (time_t) (timeout_ns / NS_PER_S);
		ts.tv_nsec = (long) (timeout_ns % NS_PER_S);
		if (pfd.fd < 0)
		{
			fprintf(stderr, PROG ": lost the connection\n");
			return false;
		}
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
		{
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			return false;
		}
	}
	return drain_ready(p);
}

/* --- publishing ------------------------------------------------------------------ */

static bool
publish_one(publisher *p)
{
	const options *opt = p->opt;
	amqp_basic_properties_t props;
	amqp_table_entry_t header;
	char		uuid[37];
	amqp_bytes_t key;
	int			rc;

	make_uuid(&p->rng, uuid);
	if (opt->routing_keys > 0)
	{
		snprintf(p->key, p->key_size, "%s.%llu", opt->routing_key,
				 (unsigned long long) (p->published % (uint64_t) opt->routing_keys));
		key = amqp_cstring_bytes(p->key);
	}
	else
		key = amqp_cstring_bytes(opt->routing_key);

	header.key = amqp_cstring_bytes("source");
	header.value.kind = AMQP_FIELD_KIND_UTF8;
	header.value.value.bytes = amqp_cstring_bytes("bench");

	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
		AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
		AMQP_BASIC_HEADERS_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = 2;	/* persistent */
	props.message_id = amqp_cstring_bytes(uuid);
	props.timestamp = (uint64_t) time(NULL);
	props.headers.num_entries = 1;
	props.headers.entries = &header;

	/* latency starts at the call: serialising and sending are part of it */
	tracker_sent(&p->t, now_ns());
	rc = amqp_basic_publish(p->conn, CHANNEL, amqp_cstring_bytes(opt->exchange),
							key, 1, 0, &props, p->body);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": cannot publish: %s\n", amqp_error_string2(rc));
		return false;
	}
	p->published++;
	return true;
}

/* Throughput mode; false on a broker error. */
static bool
run_batches(publisher *p, double *elapsed_s)
{
	const options *opt = p->opt;
	uint64_t	start = now_ns();
	uint64_t	limit_ns = (uint64_t) (opt->seconds * (double) NS_PER_S);
	bool		ok = true;

	for (;;)
	{
		uint64_t	n = (uint64_t) opt->batch;
		uint64_t	last_progress;
		uint64_t	i;

		if (opt->messages > 0 && p->published >= (uint64_t) opt->messages)
			break;
		if (limit_ns > 0 && now_ns() - start >= limit_ns)
			break;
		if (opt->messages > 0 && (uint64_t) opt->messages - p->published < n)
			n = (uint64_t) opt->messages - p->published;

		arm_watchdog();
		for (i = 0; i < n; i++)
			if (!publish_one(p))
				return false;

		last_progress = now_ns();
		while (p->t.pending > 0)
		{
			uint64_t	before = p->t.pending;
			uint64_t	now;

			arm_watchdog();
			if (!wait_and_drain(p, CONFIRM_STALL_NS))
				return false;
			now = now_ns();
			if (p->t.pending < before)
				last_progress = now;
			else if (now - last_progress >= CONFIRM_STALL_NS)
			{
				fprintf(stderr, PROG ": no confirm for %llu s, giving up on "
						"%llu messages\n",
						(unsigned long long) (CONFIRM_STALL_NS / NS_PER_S),
						(unsigned long long) p->t.pending);
				p->unconfirmed = p->t.pending;
				ok = false;
				break;
			}
		}
		if (!ok)
			break;
	}
	*elapsed_s = (double) (now_ns() - start) / (double) NS_PER_S;
	/* a stall is reported through failed=, not as a broker error */
	return true;
}

/* Rate mode; false on a broker error. */
static bool
run_rate(publisher *p)
{
	const options *opt = p->opt;
	uint64_t	interval = (uint64_t) ((double) NS_PER_S / opt->rate);
	uint64_t	start = now_ns();
	uint64_t	end = start + (uint64_t) (opt->seconds * (double) NS_PER_S);
	uint64_t	due = start;
	uint64_t	drain_end;

	if (interval == 0)
		interval = 1;
	for (;;)
	{
		uint64_t	now;

		arm_watchdog();
		now = now_ns();
		if (now >= end)
			break;
		if (opt->messages > 0 && p->published >= (uint64_t) opt->messages)
			break;
		if (now < due)
		{
			uint64_t	until = due < end ? due : end;

			if (!wait_and_drain(p, until - now))
				return false;
			continue;
		}
		if (tracker_full(&p->t))
		{
			/* a million confirms behind: the broker sets the pace now */
			if (!wait_and_drain(p, NS_PER_MS))
				return false;
			continue;
		}
		if (!publish_one(p))
			return false;
		/*
		 * A fixed schedule, so a slow publish makes the next ones follow
		 * sooner; but after falling a second behind, restart the schedule
		 * rather than publish a burst.
		 */
		due += interval;
		if (now > due + NS_PER_S)
			due = now;
		if (!drain_ready(p))
			return false;
	}

	drain_end = now_ns() + DRAIN_NS;
	while (p->t.pending > 0)
	{
		uint64_t	now;

		arm_watchdog();
		now = now_ns();
		if (now >= drain_end)
		{
			fprintf(stderr, PROG ": %llu messages not confirmed within %llu s\n",
					(unsigned long long) p->t.pending,
					(unsigned long long) (DRAIN_NS / NS_PER_S));
			p->unconfirmed = p->t.pending;
			break;
		}
		if (!wait_and_drain(p, drain_end - now))
			return false;
	}
	return true;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* nearest-rank percentile (pct of 100) of n sorted values */
static double
percentile(const double *v, size_t n, unsigned pct)
{
	size_t		rank;

	if (n == 0)
		return 0.0;
	/* the smallest rank with at least pct% of the values at or below it */
	rank = (n * pct + 99) / 100;
	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

/* --- main ------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
			"usage: " PROG " --url URL --exchange X --routing-key K [--routing-keys N]\n"
			"                [--size BYTES (256)] [--batch N (100)] [--messages M]\n"
			"                [--rate R] [--seconds S] [--cacert FILE (amqps only)]\n"
			"Without --rate: batches of N confirmed messages until M messages or\n"
			"S seconds; prints msgs_per_sec=<f> messages=<n> failed=<n>.\n"
			"With --rate: R messages/s for S seconds (default 10); prints\n"
			"p50_ms=<f> p99_ms=<f> messages=<n> failed=<n>.\n"
			"Exit: 0 ok, 1 usage/local, 2 broker, 3 some messages failed.\n");
}

static bool
parse_options(int argc, char **argv, options *opt)
{
	static const struct option longopts[] = {
		{"url", required_argument, NULL, 'u'},
		{"exchange", required_argument, NULL, 'x'},
		{"routing-key", required_argument, NULL, 'k'},
		{"routing-keys", required_argument, NULL, 'K'},
		{"size", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},
		{"messages", required_argument, NULL, 'm'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 'S'},
		{"cacert", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	memset(opt, 0, sizeof(*opt));
	opt->size = 256;
	opt->batch = 100;
	opt->cacert = DEFAULT_CACERT;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'u':
				opt->url = optarg;
				break;
			case 'x':
				opt->exchange = optarg;
				break;
			case 'k':
				opt->routing_key = optarg;
				break;
			case 'K':
				if (!parse_long(optarg, 0, INT_MAX, &opt->routing_keys))
				{
					fprintf(stderr, PROG ": --routing-keys: expected a number >= 0\n");
					return false;
				}
				break;
			case 's':
				/* {"pad":""} is the smallest body of the shape */
				if (!parse_long(optarg, 10, MAX_SIZE, &opt->size))
				{
					fprintf(stderr, PROG ": --size: expected 10 .. %ld bytes\n",
							MAX_SIZE);
					return false;
				}
				break;
			case 'b':
				if (!parse_long(optarg, 1, 1000000, &opt->batch))
				{
					fprintf(stderr, PROG ": --batch: expected 1 .. 1000000\n");
					return false;
				}
				break;
			case 'm':
				if (!parse_long(optarg, 0, LONG_MAX, &opt->messages))
				{
					fprintf(stderr, PROG ": --messages: expected a number >= 0\n");
					return false;
				}
				break;
			case 'r':
				if (!parse_positive_double(optarg, 1e9, &opt->rate))
				{
					fprintf(stderr, PROG ": --rate: expected messages per second > 0\n");
					return false;
				}
				break;
			case 'S':
				if (!parse_positive_double(optarg, 1e6, &opt->seconds))
				{
					fprintf(stderr, PROG ": --seconds: expected a number > 0\n");
					return false;
				}
				break;
			case 'c':
				opt->cacert = optarg;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				/* getopt_long said what was wrong */
				return false;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, PROG ": unexpected argument: %s\n", argv[optind]);
		return false;
	}
	if (opt->url == NULL || opt->exchange == NULL || opt->routing_key == NULL)
	{
		fprintf(stderr, PROG ": --url, --exchange and --routing-key are required\n");
		return false;
	}
	if (opt->rate == 0 && opt->messages == 0 && opt->seconds == 0)
	{
		fprintf(stderr, PROG ": throughput mode needs --messages or --seconds\n");
		return false;
	}
	if (opt->rate > 0 && opt->seconds == 0)
		opt->seconds = 10;
	return true;
}

static bool
make_body(publisher *p, size_t size)
{
	char	   *b = malloc(size);

	if (b == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return false;
	}
	/* {"pad":"xx...x"}: 8 bytes before the padding, 2 after */
	memcpy(b, "{\"pad\":\"", 8);
	memset(b + 8, 'x', size - 10);
	memcpy(b + size - 2, "\"}", 2);
	p->body.bytes = b;
	p->body.len = size;
	return true;
}

int
main(int argc, char **argv)
{
	options		opt;
	publisher	p;
	struct sigaction sa;
	double		elapsed = 0;
	uint64_t	failed;
	bool		ran;
	int			status;

	if (!parse_options(argc, argv, &opt))
	{
		usage(stderr);
		return EXIT_USAGE;
	}

	memset(&p, 0, sizeof(p));
	p.opt = &opt;
	/* routing key, a dot, up to 10 digits of a long index, NUL */
	p.key_size = strlen(opt.routing_key) + 24;
	p.key = malloc(p.key_size);
	if (p.key == NULL || !make_body(&p, (size_t) opt.size) ||
		!tracker_init(&p.t, opt.rate > 0 ? RATE_WINDOW : (uint64_t) opt.batch,
					  opt.rate > 0))
	{
		if (p.key == NULL)
			fprintf(stderr, PROG ": out of memory\n");
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return EXIT_LOCAL;
	}
	if (getrandom(&p.rng, sizeof(p.rng), 0) != (ssize_t) sizeof(p.rng))
	{
		perror(PROG ": getrandom");
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return EXIT_LOCAL;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fired;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
	{
		perror(PROG ": sigaction");
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return EXIT_LOCAL;
	}
	arm_watchdog();

	p.conn = broker_connect(opt.url, opt.cacert, &p.ssl);
	if (p.conn == NULL)
	{
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return EXIT_BROKER;
	}

	ran = opt.rate > 0 ? run_rate(&p) : run_batches(&p, &elapsed);
	arm_watchdog();
	if (!ran)
	{
		/* the connection is broken or closed by the broker: no goodbyes */
		if (amqp_destroy_connection(p.conn) != AMQP_STATUS_OK)
			fprintf(stderr, PROG ": cannot tear down the connection\n");
		status = EXIT_BROKER;
	}
	else
	{
		failed = p.t.nacked + p.returned + p.unconfirmed;
		if (p.t.nacked > 0)
			fprintf(stderr, PROG ": %llu messages nacked by the broker\n",
					(unsigned long long) p.t.nacked);
		if (p.returned > 0)
			fprintf(stderr, PROG ": %llu messages returned as unroutable\n",
					(unsigned long long) p.returned);
		if (opt.rate > 0)
		{
			qsort(p.t.lat, p.t.nlat, sizeof(double), cmp_double);
			printf("p50_ms=%.3f p99_ms=%.3f messages=%llu failed=%llu\n",
				   percentile(p.t.lat, p.t.nlat, 50),
				   percentile(p.t.lat, p.t.nlat, 99),
				   (unsigned long long) p.published,
				   (unsigned long long) failed);
		}
		else
			printf("msgs_per_sec=%.1f messages=%llu failed=%llu\n",
				   elapsed > 0 ?
				   (double) (p.t.acked + p.t.nacked) / elapsed : 0.0,
				   (unsigned long long) p.published,
				   (unsigned long long) failed);
		status = failed > 0 ? EXIT_FAILED : 0;
		if (fflush(stdout) == EOF)
		{
			fprintf(stderr, PROG ": cannot write to stdout: %s\n", strerror(errno));
			status = EXIT_LOCAL;
		}
		if (!broker_close(p.conn) && status == 0)
			status = EXIT_BROKER;
	}

	free(p.key);
	free(p.body.bytes);
	tracker_free(&p.t);
	return status;
}
