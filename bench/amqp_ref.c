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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "amqp_common.h"

#define PROG				"amqp_ref"
/* a batch whose confirms stop coming for this long is given up */
#define CONFIRM_STALL_NS	(30 * TOOL_NS_PER_S)
/* rate mode: how long to wait for the last confirms */
#define DRAIN_NS			(10 * TOOL_NS_PER_S)
/* bounds blocking sends, which rabbitmq-c does without a deadline */
#define WATCHDOG_MS			60000
/* rate mode: most messages awaiting a confirm at once */
#define RATE_WINDOW			((uint64_t) 1 << 20)
#define MAX_SIZE			(128L * 1024 * 1024)
#define MAX_RETURNS_SHOWN	5

/* 0, 1 and 2 as every tool (amqp_common.h); 3 is ours */
#define EXIT_FAILED			3

const char	tool_progname[] = PROG;

typedef struct options
{
	tool_broker broker;			/* --url, --cacert */
	const char *exchange;
	const char *routing_key;
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

/*
 * Re-armed at every step of every loop: waits have their own timeouts,
 * but a send to a broker that stopped reading (a resource alarm) blocks.
 */
static void
arm_watchdog(void)
{
	if (!tool_watchdog_arm(WATCHDOG_MS))
	{
		perror(PROG ": setitimer");
		exit(TOOL_EXIT_LOCAL);
	}
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

/* --- connection ------------------------------------------------------------------ */

/*
 * Connects (see tool_connect) and puts the channel into confirm mode; NULL
 * (with a message) on failure.
 */
static amqp_connection_state_t
broker_connect(const tool_broker *broker, bool *ssl)
{
	amqp_connection_state_t conn;

	conn = tool_connect(broker, TOOL_CONNECT_TIMEOUT_MS, NULL, ssl);
	if (conn == NULL)
		return NULL;
	if (amqp_confirm_select(conn, TOOL_CHANNEL) == NULL &&
		!tool_rpc_ok(conn, "cannot enable publisher confirms"))
	{
		tool_abandon(conn);
		return NULL;
	}
	return conn;
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
	uint64_t	now = t->record ? tool_now_ns() : 0;
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
			!record_latency(t, (double) (now - t->sent_ns[slot]) / (double) TOOL_NS_PER_MS))
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
		if (!p->want_header || f->channel != TOOL_CHANNEL)
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
		if (p->want_header || f->channel != TOOL_CHANNEL ||
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
		case AMQP_CHANNEL_CLOSE_METHOD:
			tool_report_close(f);
			tool_answer_close(p->conn, f);
			p->closed_by_broker = true;
			return false;
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
		int			rc;

		/* handle_frame keeps nothing from a frame: recycle its memory */
		amqp_maybe_release_buffers(p->conn);
		rc = tool_wait_frame(p->conn, &frame, 0);
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
	uint64_t	cap = p->ssl ? TOOL_NS_PER_MS : 50 * TOOL_NS_PER_MS;

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
		ts.tv_sec = (time_t) (timeout_ns / TOOL_NS_PER_S);
		ts.tv_nsec = (long) (timeout_ns % TOOL_NS_PER_S);
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
	tracker_sent(&p->t, tool_now_ns());
	rc = amqp_basic_publish(p->conn, TOOL_CHANNEL, amqp_cstring_bytes(opt->exchange),
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
	uint64_t	start = tool_now_ns();
	uint64_t	limit_ns = (uint64_t) (opt->seconds * (double) TOOL_NS_PER_S);
	bool		ok = true;

	for (;;)
	{
		uint64_t	n = (uint64_t) opt->batch;
		uint64_t	last_progress;
		uint64_t	i;

		if (opt->messages > 0 && p->published >= (uint64_t) opt->messages)
			break;
		if (limit_ns > 0 && tool_now_ns() - start >= limit_ns)
			break;
		if (opt->messages > 0 && (uint64_t) opt->messages - p->published < n)
			n = (uint64_t) opt->messages - p->published;

		arm_watchdog();
		for (i = 0; i < n; i++)
			if (!publish_one(p))
				return false;

		last_progress = tool_now_ns();
		while (p->t.pending > 0)
		{
			uint64_t	before = p->t.pending;
			uint64_t	now;

			arm_watchdog();
			if (!wait_and_drain(p, CONFIRM_STALL_NS))
				return false;
			now = tool_now_ns();
			if (p->t.pending < before)
				last_progress = now;
			else if (now - last_progress >= CONFIRM_STALL_NS)
			{
				fprintf(stderr, PROG ": no confirm for %llu s, giving up on "
						"%llu messages\n",
						(unsigned long long) (CONFIRM_STALL_NS / TOOL_NS_PER_S),
						(unsigned long long) p->t.pending);
				p->unconfirmed = p->t.pending;
				ok = false;
				break;
			}
		}
		if (!ok)
			break;
	}
	*elapsed_s = (double) (tool_now_ns() - start) / (double) TOOL_NS_PER_S;
	/* a stall is reported through failed=, not as a broker error */
	return true;
}

/* Rate mode; false on a broker error. */
static bool
run_rate(publisher *p)
{
	const options *opt = p->opt;
	uint64_t	interval = (uint64_t) ((double) TOOL_NS_PER_S / opt->rate);
	uint64_t	start = tool_now_ns();
	uint64_t	end = start + (uint64_t) (opt->seconds * (double) TOOL_NS_PER_S);
	uint64_t	due = start;
	uint64_t	drain_end;

	if (interval == 0)
		interval = 1;
	for (;;)
	{
		uint64_t	now;

		arm_watchdog();
		now = tool_now_ns();
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
			if (!wait_and_drain(p, TOOL_NS_PER_MS))
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
		if (now > due + TOOL_NS_PER_S)
			due = now;
		if (!drain_ready(p))
			return false;
	}

	drain_end = tool_now_ns() + DRAIN_NS;
	while (p->t.pending > 0)
	{
		uint64_t	now;

		arm_watchdog();
		now = tool_now_ns();
		if (now >= drain_end)
		{
			fprintf(stderr, PROG ": %llu messages not confirmed within %llu s\n",
					(unsigned long long) p->t.pending,
					(unsigned long long) (DRAIN_NS / TOOL_NS_PER_S));
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

/* One option for tool_parse_args; false (with a message) if it is bad. */
static bool
take_option(int c, const char *arg, void *ctx)
{
	options    *opt = ctx;

	switch (c)
	{
		case 'x':
			opt->exchange = arg;
			return true;
		case 'k':
			opt->routing_key = arg;
			return true;
		case 'K':
			return tool_option_long("--routing-keys", arg, 0, INT_MAX,
									"a number >= 0", &opt->routing_keys);
		case 's':
			/* {"pad":""} is the smallest body of the shape */
			if (tool_parse_long(arg, 10, MAX_SIZE, &opt->size))
				return true;
			fprintf(stderr, PROG ": --size: expected 10 .. %ld bytes\n",
					MAX_SIZE);
			return false;
		case 'b':
			return tool_option_long("--batch", arg, 1, 1000000,
									"1 .. 1000000", &opt->batch);
		case 'm':
			return tool_option_long("--messages", arg, 0, LONG_MAX,
									"a number >= 0", &opt->messages);
		case 'r':
			return tool_option_double("--rate", arg, 1e9,
									  "messages per second > 0", &opt->rate);
		case 'S':
			return tool_option_double("--seconds", arg, 1e6,
									  "a number > 0", &opt->seconds);
		default:
			/* longopts has no other codes */
			return false;
	}
}

static bool
parse_options(int argc, char **argv, options *opt)
{
	static const struct option longopts[] = {
		{"exchange", required_argument, NULL, 'x'},
		{"routing-key", required_argument, NULL, 'k'},
		{"routing-keys", required_argument, NULL, 'K'},
		{"size", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},
		{"messages", required_argument, NULL, 'm'},
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 'S'},
		TOOL_LONGOPTS
	};

	memset(opt, 0, sizeof(*opt));
	opt->size = 256;
	opt->batch = 100;

	if (!tool_parse_args(argc, argv, longopts, &opt->broker, take_option, opt,
						 usage))
		return false;
	if (opt->broker.url == NULL || opt->exchange == NULL || opt->routing_key == NULL)
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
	double		elapsed = 0;
	uint64_t	failed;
	bool		ran;
	int			status;

	if (!parse_options(argc, argv, &opt))
	{
		usage(stderr);
		return TOOL_EXIT_USAGE;
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
		return TOOL_EXIT_LOCAL;
	}
	if (getrandom(&p.rng, sizeof(p.rng), 0) != (ssize_t) sizeof(p.rng))
	{
		perror(PROG ": getrandom");
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return TOOL_EXIT_LOCAL;
	}

	if (!tool_watchdog_install("no progress for 60 s (broker blocked?), "
							   "giving up", TOOL_EXIT_BROKER))
	{
		perror(PROG ": sigaction");
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return TOOL_EXIT_LOCAL;
	}
	arm_watchdog();

	p.conn = broker_connect(&opt.broker, &p.ssl);
	if (p.conn == NULL)
	{
		free(p.key);
		free(p.body.bytes);
		tracker_free(&p.t);
		return TOOL_EXIT_BROKER;
	}

	ran = opt.rate > 0 ? run_rate(&p) : run_batches(&p, &elapsed);
	arm_watchdog();
	if (!ran)
	{
		/* the connection is broken or closed by the broker: no goodbyes */
		tool_abandon(p.conn);
		status = TOOL_EXIT_BROKER;
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
			status = TOOL_EXIT_LOCAL;
		}
		if (!tool_close(p.conn, true) && status == 0)
			status = TOOL_EXIT_BROKER;
	}

	free(p.key);
	free(p.body.bytes);
	tracker_free(&p.t);
	return status;
}
