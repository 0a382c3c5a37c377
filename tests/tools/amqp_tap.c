/*
 * amqp_tap.c
 *		A test consumer for the integration tests: declares (and binds) a
 *		durable queue, then prints every message it receives as one JSON
 *		object per line, so a test can count messages by id.
 *
 * Usage:
 *   amqp_tap --url URL --queue NAME [--bind EXCHANGE:ROUTING_KEY]...
 *            [--declare-only] [--purge] [--max-length N] [--count N]
 *            [--idle-ms MS] [--timeout-ms MS] [--cacert FILE]
 *
 * The queue is declared durable, non-exclusive and non-auto-delete, so a
 * test can declare it first (--declare-only) and messages published while
 * no consumer runs are kept.  --bind splits at the first ':' (exchange names
 * in this project never contain one, routing keys might); bindings to the
 * default exchange "" are skipped, as every queue is bound to it by name.
 * --max-length N declares the queue to hold at most N messages and to
 * refuse the rest (x-overflow reject-publish): the broker then nacks what a
 * publisher sends to it while it is full, which is how the outbox tests
 * provoke a basic.nack.
 *
 * Each message goes to stdout on one line, flushed, and is acknowledged
 * only after that (with multiple, so acks are batched), so a message this
 * tool did not print is requeued when it exits:
 *   {"message_id":..,"exchange":..,"routing_key":..,"content_type":..,
 *    "delivery_mode":..,"timestamp":..,"headers":{..},"body":"..",
 *    "redelivered":..}
 * Strings that are not valid UTF-8 get U+FFFD for each bad byte.
 *
 * It stops when --count messages arrived, or when none arrived for
 * --idle-ms (default 3000), or when --timeout-ms (default 120000) passed
 * since it started.  With --count the idle limit only applies when
 * --idle-ms is given explicitly: a test that expects N messages wants to
 * wait for them (through a relay's retry back-off, say) up to the timeout.
 * "amqp_tap: N messages" closes every run on stderr.
 *
 * Exit status: 0 done (count reached or idle), 1 usage or local error
 * (out of memory, stdout closed), 2 connection or broker error, 3 timeout.
 *
 * amqps:// URLs use TLS with peer and host name verification against
 * --cacert (default: the system bundle).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <jansson.h>

#include "amqp_common.h"

#define PROG				"amqp_tap"
#define PREFETCH			1000
/* ack at the latest after this many messages, earlier when idle */
#define ACK_BATCH			100
/* header and body frames follow a basic.deliver right away */
#define CONTENT_TIMEOUT_MS	10000
/* the watchdog only catches what the timeouts above cannot (blocked sends) */
#define WATCHDOG_GRACE_MS	5000
/* RabbitMQ's own limit on a message body */
#define MAX_BODY			((uint64_t) 512 * 1024 * 1024)

/* 0, 1 and 2 as every tool (amqp_common.h); 3 is ours */
#define EXIT_TIMEOUT		3

const char	tool_progname[] = PROG;

typedef struct options
{
	tool_broker broker;			/* --url, --cacert */
	const char *queue;
	const char **binds;
	int			nbinds;
	bool		declare_only;
	bool		purge;
	long		max_length;		/* 0: unbounded */
	long		count;			/* 0: no count */
	long		idle_ms;
	bool		idle_given;
	long		timeout_ms;
} options;

/* --- connection ---------------------------------------------------------------- */

/*
 * Connects as a consumer (see tool_connect); NULL (with a message) on
 * failure.
 */
static amqp_connection_state_t
broker_connect(const tool_broker *broker, int64_t timeout_ms)
{
	amqp_table_entry_t capability;
	amqp_table_entry_t props[2];
	amqp_table_t client_props;

	/*
	 * Without consumer_cancel_notify RabbitMQ silently drops the consumer
	 * of a deleted queue, and we would wait for the timeout instead of
	 * failing at once.
	 */
	capability.key = amqp_cstring_bytes("consumer_cancel_notify");
	capability.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	capability.value.value.boolean = 1;
	props[0].key = amqp_cstring_bytes("capabilities");
	props[0].value.kind = AMQP_FIELD_KIND_TABLE;
	props[0].value.value.table.num_entries = 1;
	props[0].value.value.table.entries = &capability;
	/* names the connection in the broker's log and management UI */
	props[1].key = amqp_cstring_bytes("connection_name");
	props[1].value.kind = AMQP_FIELD_KIND_UTF8;
	props[1].value.value.bytes = amqp_cstring_bytes(PROG);
	client_props.num_entries = 2;
	client_props.entries = props;
	return tool_connect(broker, timeout_ms, &client_props, NULL);
}

/* --- AMQP values to JSON ------------------------------------------------------ */

/* length of the valid UTF-8 sequence at s, 0 if it is not one */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t		n;
	size_t		i;

	if (c < 0x80)
		return 1;
	if (c < 0xC2)				/* stray continuation, overlong 2-byte */
		return 0;
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
	if (n == 0 || n > avail)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF */
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) ||
		(c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
		return 0;
	return n;
}

/*
 * Returns p itself when it is valid UTF-8, else a malloc'd copy (stored in
 * *tmp for the caller to free) with U+FFFD for each bad byte; jansson takes
 * UTF-8 only, and a test would rather see a replacement than no message.
 */
static const char *
utf8_fix(const void *p, size_t len, char **tmp, size_t *outlen)
{
	const unsigned char *s = p;
	size_t		i;
	size_t		o;
	char	   *out;

	*tmp = NULL;
	*outlen = len;
	for (i = 0; i < len;)
	{
		size_t		n = utf8_seq_len(s + i, len - i);

		if (n == 0)
			break;
		i += n;
	}
	if (i == len)
		return len > 0 ? (const char *) p : "";

	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, s, i);
	o = i;
	while (i < len)
	{
		size_t		n = utf8_seq_len(s + i, len - i);

		if (n == 0)
		{
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
		else
		{
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	*tmp = out;
	*outlen = o;
	return out;
}

static json_t *
json_from_bytes(amqp_bytes_t b)
{
	char	   *tmp;
	size_t		len;
	const char *s = utf8_fix(b.bytes, b.len, &tmp, &len);
	json_t	   *j;

	if (s == NULL)
		return NULL;
	j = json_stringn(s, len);
	free(tmp);
	return j;
}

static json_t *table_to_json(const amqp_table_t *t);

static json_t *
field_to_json(const amqp_field_value_t *v)
{
	switch (v->kind)
	{
		case AMQP_FIELD_KIND_BOOLEAN:
			return json_boolean(v->value.boolean);
		case AMQP_FIELD_KIND_I8:
			return json_integer(v->value.i8);
		case AMQP_FIELD_KIND_U8:
			return json_integer(v->value.u8);
		case AMQP_FIELD_KIND_I16:
			return json_integer(v->value.i16);
		case AMQP_FIELD_KIND_U16:
			return json_integer(v->value.u16);
		case AMQP_FIELD_KIND_I32:
			return json_integer(v->value.i32);
		case AMQP_FIELD_KIND_U32:
			return json_integer(v->value.u32);
		case AMQP_FIELD_KIND_I64:
			return json_integer(v->value.i64);
		case AMQP_FIELD_KIND_U64:
		case AMQP_FIELD_KIND_TIMESTAMP:
			/* JSON integers here are signed 64-bit: degrade, do not wrap */
			if (v->value.u64 > (uint64_t) INT64_MAX)
				return json_real((double) v->value.u64);
			return json_integer((json_int_t) v->value.u64);
		case AMQP_FIELD_KIND_F32:
			/* JSON has no NaN or infinity */
			return isfinite(v->value.f32) ? json_real(v->value.f32) : json_null();
		case AMQP_FIELD_KIND_F64:
			return isfinite(v->value.f64) ? json_real(v->value.f64) : json_null();
		case AMQP_FIELD_KIND_DECIMAL:
			{
				double		d = v->value.decimal.value;
				int			k;

				if (v->value.decimal.decimals == 0)
					return json_integer(v->value.decimal.value);
				for (k = 0; k < v->value.decimal.decimals; k++)
					d /= 10.0;
				return json_real(d);
			}
		case AMQP_FIELD_KIND_UTF8:
		case AMQP_FIELD_KIND_BYTES:
			return json_from_bytes(v->value.bytes);
		case AMQP_FIELD_KIND_TABLE:
			return table_to_json(&v->value.table);
		case AMQP_FIELD_KIND_ARRAY:
			{
				json_t	   *a = json_array();
				int			i;

				if (a == NULL)
					return NULL;
				for (i = 0; i < v->value.array.num_entries; i++)
				{
					/* append_new takes (and on failure drops) the value */
					if (json_array_append_new(a,
											  field_to_json(&v->value.array.entries[i])) != 0)
					{
						json_decref(a);
						return NULL;
					}
				}
				return a;
			}
		case AMQP_FIELD_KIND_VOID:
		default:
			/* void, and kinds a newer library might add */
			return json_null();
	}
}

static json_t *
table_to_json(const amqp_table_t *t)
{
	json_t	   *o = json_object();
	int			i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < t->num_entries; i++)
	{
		const amqp_table_entry_t *e = &t->entries[i];
		char	   *tmp;
		size_t		klen;
		const char *key = utf8_fix(e->key.bytes, e->key.len, &tmp, &klen);
		int			rc;

		if (key == NULL)
		{
			json_decref(o);
			return NULL;
		}
		/* setn_new takes (and on failure drops) the value */
		rc = json_object_setn_new(o, key, klen, field_to_json(&e->value));
		free(tmp);
		if (rc != 0)
		{
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *
opt_bytes(const amqp_basic_properties_t *p, amqp_flags_t flag, amqp_bytes_t b)
{
	return (p->_flags & flag) ? json_from_bytes(b) : json_null();
}

/*
 * One output line for a message; NULL only when out of memory (jansson's
 * set_new functions return -1 for a NULL value, so one check covers both).
 */
static json_t *
message_to_json(const amqp_basic_deliver_t *d,
				const amqp_basic_properties_t *p, amqp_bytes_t body)
{
	json_t	   *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "message_id",
							opt_bytes(p, AMQP_BASIC_MESSAGE_ID_FLAG, p->message_id)) != 0 ||
		json_object_set_new(o, "exchange", json_from_bytes(d->exchange)) != 0 ||
		json_object_set_new(o, "routing_key", json_from_bytes(d->routing_key)) != 0 ||
		json_object_set_new(o, "content_type",
							opt_bytes(p, AMQP_BASIC_CONTENT_TYPE_FLAG, p->content_type)) != 0 ||
		json_object_set_new(o, "delivery_mode",
							(p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) ?
							json_integer(p->delivery_mode) : json_null()) != 0 ||
		json_object_set_new(o, "timestamp",
							(p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) &&
							p->timestamp <= (uint64_t) INT64_MAX ?
							json_integer((json_int_t) p->timestamp) : json_null()) != 0 ||
		json_object_set_new(o, "headers",
							(p->_flags & AMQP_BASIC_HEADERS_FLAG) ?
							table_to_json(&p->headers) : json_object()) != 0 ||
		json_object_set_new(o, "body", json_from_bytes(body)) != 0 ||
		json_object_set_new(o, "redelivered", json_boolean(d->redelivered)) != 0)
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* --- queue setup ----------------------------------------------------------------- */

static bool
setup_queue(amqp_connection_state_t conn, const options *opt)
{
	amqp_bytes_t queue = amqp_cstring_bytes(opt->queue);
	amqp_queue_declare_ok_t *decl;
	amqp_table_entry_t limits[2];
	amqp_table_t args = amqp_empty_table;
	uint32_t	ready;
	int			i;

	if (opt->max_length > 0)
	{
		limits[0].key = amqp_cstring_bytes("x-max-length");
		limits[0].value.kind = AMQP_FIELD_KIND_I64;
		limits[0].value.value.i64 = opt->max_length;
		limits[1].key = amqp_cstring_bytes("x-overflow");
		limits[1].value.kind = AMQP_FIELD_KIND_UTF8;
		limits[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
		args.num_entries = 2;
		args.entries = limits;
	}
	/* durable, not exclusive, not auto-delete: outlives this process */
	decl = amqp_queue_declare(conn, TOOL_CHANNEL, queue, 0, 1, 0, 0, args);
	if (decl == NULL && !tool_rpc_ok(conn, "cannot declare the queue"))
		return false;
	if (decl == NULL)
	{
		fprintf(stderr, PROG ": cannot declare the queue: no reply\n");
		return false;
	}
	ready = decl->message_count;

	for (i = 0; i < opt->nbinds; i++)
	{
		const char *colon = strchr(opt->binds[i], ':');
		char	   *exchange;
		char		what[300];

		/* parse_options checked the colon */
		exchange = strndup(opt->binds[i], (size_t) (colon - opt->binds[i]));
		if (exchange == NULL)
		{
			fprintf(stderr, PROG ": out of memory\n");
			return false;
		}
		if (exchange[0] == '\0')
		{
			/* the default exchange routes by queue name; it takes no binds */
			if (strcmp(colon + 1, opt->queue) != 0)
				fprintf(stderr, PROG ": note: the default exchange routes "
						"\"%s\" only, not \"%s\"\n", opt->queue, colon + 1);
			free(exchange);
			continue;
		}
		snprintf(what, sizeof(what), "cannot bind to %s", opt->binds[i]);
		if (amqp_queue_bind(conn, TOOL_CHANNEL, queue, amqp_cstring_bytes(exchange),
							amqp_cstring_bytes(colon + 1),
							amqp_empty_table) == NULL &&
			!tool_rpc_ok(conn, what))
		{
			free(exchange);
			return false;
		}
		free(exchange);
	}

	if (opt->purge)
	{
		amqp_queue_purge_ok_t *purged = amqp_queue_purge(conn, TOOL_CHANNEL, queue);

		if (purged == NULL && !tool_rpc_ok(conn, "cannot purge the queue"))
			return false;
		fprintf(stderr, PROG ": purged %u messages from %s\n",
				purged ? (unsigned) purged->message_count : 0u, opt->queue);
		ready = 0;
	}
	if (opt->declare_only)
		fprintf(stderr, PROG ": queue %s ready (%u messages, %u consumers)\n",
				opt->queue, (unsigned) ready, (unsigned) decl->consumer_count);
	return true;
}

/* --- consuming ----------------------------------------------------------------------- */

typedef enum
{
	TAP_DONE,					/* count reached or idle */
	TAP_TIMEOUT,
	TAP_BROKER_ERROR,
	TAP_LOCAL_ERROR
} tap_result;

/*
 * Reads the header and body frames that follow the basic.deliver in
 * *deliver and prints the message.  The deliver frame's data lives in the
 * connection's buffers, which are only recycled by the caller's next
 * amqp_maybe_release_buffers, so it stays valid throughout.
 */
static tap_result
take_delivery(amqp_connection_state_t conn, const amqp_frame_t *deliver)
{
	const amqp_basic_deliver_t *d = deliver->payload.method.decoded;
	amqp_basic_properties_t *props;
	amqp_frame_t frame;
	amqp_bytes_t body;
	uint64_t	size;
	uint64_t	got = 0;
	json_t	   *line_json;
	char	   *line;
	int			rc;

	rc = tool_wait_frame(conn, &frame, CONTENT_TIMEOUT_MS);
	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": waiting for a message header: %s\n",
				amqp_error_string2(rc));
		return TAP_BROKER_ERROR;
	}
	if (frame.frame_type != AMQP_FRAME_HEADER || frame.channel != TOOL_CHANNEL)
	{
		if (tool_report_close(&frame))
			tool_answer_close(conn, &frame);
		else
			fprintf(stderr, PROG ": protocol error: expected a message header "
					"(frame type %u on channel %u)\n",
					(unsigned) frame.frame_type, (unsigned) frame.channel);
		return TAP_BROKER_ERROR;
	}
	props = frame.payload.properties.decoded;
	size = frame.payload.properties.body_size;
	if (size > MAX_BODY)
	{
		fprintf(stderr, PROG ": message body of %llu bytes is too large\n",
				(unsigned long long) size);
		return TAP_BROKER_ERROR;
	}

	/* +1: malloc(0) may return NULL, which would look like a failure */
	body.len = (size_t) size;
	body.bytes = malloc(body.len + 1);
	if (body.bytes == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return TAP_LOCAL_ERROR;
	}
	while (got < size)
	{
		rc = tool_wait_frame(conn, &frame, CONTENT_TIMEOUT_MS);
		if (rc != AMQP_STATUS_OK)
		{
			fprintf(stderr, PROG ": waiting for a message body: %s\n",
					amqp_error_string2(rc));
			free(body.bytes);
			return TAP_BROKER_ERROR;
		}
		if (frame.frame_type != AMQP_FRAME_BODY || frame.channel != TOOL_CHANNEL ||
			frame.payload.body_fragment.len > size - got)
		{
			if (tool_report_close(&frame))
				tool_answer_close(conn, &frame);
			else
				fprintf(stderr, PROG ": protocol error: expected %llu more "
						"body bytes (frame type %u on channel %u)\n",
						(unsigned long long) (size - got),
						(unsigned) frame.frame_type, (unsigned) frame.channel);
			free(body.bytes);
			return TAP_BROKER_ERROR;
		}
		memcpy((char *) body.bytes + got, frame.payload.body_fragment.bytes,
			   frame.payload.body_fragment.len);
		got += frame.payload.body_fragment.len;
	}

	line_json = message_to_json(d, props, body);
	free(body.bytes);
	if (line_json == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return TAP_LOCAL_ERROR;
	}
	line = json_dumps(line_json, JSON_COMPACT);
	json_decref(line_json);
	if (line == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return TAP_LOCAL_ERROR;
	}
	/* flushed per line: tests read the output while we run */
	if (fputs(line, stdout) == EOF || putchar('\n') == EOF ||
		fflush(stdout) == EOF)
	{
		fprintf(stderr, PROG ": cannot write to stdout: %s\n", strerror(errno));
		free(line);
		return TAP_LOCAL_ERROR;
	}
	free(line);
	return TAP_DONE;
}

static bool
ack_upto(amqp_connection_state_t conn, uint64_t tag)
{
	int			rc = amqp_basic_ack(conn, TOOL_CHANNEL, tag, 1);

	if (rc != AMQP_STATUS_OK)
	{
		fprintf(stderr, PROG ": cannot acknowledge messages: %s\n",
				amqp_error_string2(rc));
		return false;
	}
	return true;
}

static tap_result
consume(amqp_connection_state_t conn, const options *opt, int64_t deadline,
		long *received)
{
	/* with --count, wait for the messages unless told to stop when idle */
	int64_t		idle_ms = (opt->count == 0 || opt->idle_given) ? opt->idle_ms : -1;
	int64_t		last_msg;
	uint64_t	last_tag = 0;	/* delivery tag of the last printed message */
	uint64_t	acked_tag = 0;
	tap_result	res;

	if (amqp_basic_qos(conn, TOOL_CHANNEL, 0, PREFETCH, 0) == NULL &&
		!tool_rpc_ok(conn, "cannot set the prefetch count"))
		return TAP_BROKER_ERROR;
	if (amqp_basic_consume(conn, TOOL_CHANNEL, amqp_cstring_bytes(opt->queue),
						   amqp_empty_bytes, 0, 0, 0, amqp_empty_table) == NULL &&
		!tool_rpc_ok(conn, "cannot start consuming"))
		return TAP_BROKER_ERROR;

	last_msg = tool_now_ms();
	for (;;)
	{
		amqp_frame_t frame;
		int64_t		now = tool_now_ms();
		int64_t		until = deadline;
		int			rc;

		if (opt->count > 0 && *received >= opt->count)
		{
			res = TAP_DONE;
			break;
		}
		if (now >= deadline)
		{
			if (opt->count > 0)
				fprintf(stderr, PROG ": timed out after %ld ms with %ld of %ld "
						"messages\n", opt->timeout_ms, *received, opt->count);
			else
				fprintf(stderr, PROG ": timed out after %ld ms without an idle "
						"pause of %ld ms\n", opt->timeout_ms, opt->idle_ms);
			res = TAP_TIMEOUT;
			break;
		}
		if (idle_ms >= 0)
		{
			if (now - last_msg >= idle_ms)
			{
				res = TAP_DONE;
				break;
			}
			if (last_msg + idle_ms < until)
				until = last_msg + idle_ms;
		}

		/*
		 * Ack what was printed before blocking, or every ACK_BATCH messages
		 * while they stream in: one ack with multiple covers them all.
		 */
		if (last_tag > acked_tag &&
			(last_tag - acked_tag >= ACK_BATCH ||
			 (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn))))
		{
			if (!ack_upto(conn, last_tag))
				return TAP_BROKER_ERROR;
			acked_tag = last_tag;
		}

		/* the previous frame's data is no longer used */
		amqp_maybe_release_buffers(conn);
		rc = tool_wait_frame(conn, &frame, until - now);
		if (rc == AMQP_STATUS_TIMEOUT)
			continue;
		if (rc != AMQP_STATUS_OK)
		{
			fprintf(stderr, PROG ": lost the connection: %s\n",
					amqp_error_string2(rc));
			return TAP_BROKER_ERROR;
		}
		if (frame.frame_type != AMQP_FRAME_METHOD)
		{
			fprintf(stderr, PROG ": protocol error: content frame (type %u) "
					"without a delivery\n", (unsigned) frame.frame_type);
			return TAP_BROKER_ERROR;
		}
		switch (frame.payload.method.id)
		{
			case AMQP_BASIC_DELIVER_METHOD:
				res = take_delivery(conn, &frame);
				if (res != TAP_DONE)
					return res;
				(*received)++;
				last_tag = ((amqp_basic_deliver_t *) frame.payload.method.decoded)->delivery_tag;
				last_msg = tool_now_ms();
				break;
			case AMQP_CONNECTION_CLOSE_METHOD:
			case AMQP_CHANNEL_CLOSE_METHOD:
				tool_report_close(&frame);
				tool_answer_close(conn, &frame);
				return TAP_BROKER_ERROR;
			case AMQP_BASIC_CANCEL_METHOD:
				fprintf(stderr, PROG ": the broker cancelled the consumer "
						"(queue %s deleted?)\n", opt->queue);
				return TAP_BROKER_ERROR;
			default:
				/* nothing else concerns a consumer */
				break;
		}
	}

	if (last_tag > acked_tag && !ack_upto(conn, last_tag))
		return TAP_BROKER_ERROR;
	return res;
}

/* --- main ------------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
			"usage: " PROG " --url URL --queue NAME [--bind EXCHANGE:ROUTING_KEY]...\n"
			"                [--declare-only] [--purge] [--max-length N] [--count N]\n"
			"                [--idle-ms MS (3000)] [--timeout-ms MS (120000)]\n"
			"                [--cacert FILE (amqps only)]\n"
			"Prints each message of the queue as one JSON line on stdout; stops\n"
			"after N messages, MS idle (with --count: only if --idle-ms is given)\n"
			"or the timeout.  Exit: 0 done, 1 usage/local, 2 broker, 3 timeout.\n");
}

/* One option for tool_parse_args; false (with a message) if it is bad. */
static bool
take_option(int c, const char *arg, void *ctx)
{
	options    *opt = ctx;

	switch (c)
	{
		case 'q':
			opt->queue = arg;
			return true;
		case 'b':
			if (strchr(arg, ':') == NULL)
			{
				fprintf(stderr, PROG ": --bind %s: expected EXCHANGE:ROUTING_KEY\n",
						arg);
				return false;
			}
			opt->binds[opt->nbinds++] = arg;
			return true;
		case 'd':
			opt->declare_only = true;
			return true;
		case 'p':
			opt->purge = true;
			return true;
		case 'm':
			return tool_option_long("--max-length", arg, 1, INT_MAX,
									"a number > 0", &opt->max_length);
		case 'n':
			return tool_option_long("--count", arg, 0, LONG_MAX,
									"a number >= 0", &opt->count);
		case 'i':
			if (!tool_option_long("--idle-ms", arg, 0, INT_MAX,
								  "a number >= 0", &opt->idle_ms))
				return false;
			opt->idle_given = true;
			return true;
		case 't':
			return tool_option_long("--timeout-ms", arg, 1, INT_MAX,
									"a number > 0", &opt->timeout_ms);
		default:
			/* longopts has no other codes */
			return false;
	}
}

static bool
parse_options(int argc, char **argv, options *opt)
{
	static const struct option longopts[] = {
		{"queue", required_argument, NULL, 'q'},
		{"bind", required_argument, NULL, 'b'},
		{"declare-only", no_argument, NULL, 'd'},
		{"purge", no_argument, NULL, 'p'},
		{"max-length", required_argument, NULL, 'm'},
		{"count", required_argument, NULL, 'n'},
		{"idle-ms", required_argument, NULL, 'i'},
		{"timeout-ms", required_argument, NULL, 't'},
		TOOL_LONGOPTS
	};

	memset(opt, 0, sizeof(*opt));
	opt->idle_ms = 3000;
	opt->timeout_ms = 120000;
	/* every --bind fits in an array of argc entries */
	opt->binds = calloc((size_t) argc, sizeof(*opt->binds));
	if (opt->binds == NULL)
	{
		fprintf(stderr, PROG ": out of memory\n");
		return false;
	}

	if (!tool_parse_args(argc, argv, longopts, &opt->broker, take_option, opt,
						 usage))
		return false;
	if (opt->broker.url == NULL || opt->queue == NULL || opt->queue[0] == '\0')
	{
		fprintf(stderr, PROG ": --url and --queue are required\n");
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	options		opt;
	amqp_connection_state_t conn;
	int64_t		start = tool_now_ms();
	int64_t		deadline;
	long		received = 0;
	tap_result	res;
	int			status;

	if (!parse_options(argc, argv, &opt))
	{
		usage(stderr);
		free(opt.binds);
		return TOOL_EXIT_USAGE;
	}
	deadline = start + opt.timeout_ms;

	/* a reader that went away must show up as a write error, not a signal */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
	{
		perror(PROG ": signal");
		free(opt.binds);
		return TOOL_EXIT_LOCAL;
	}
	/*
	 * rabbitmq-c sends without a deadline, so a broker that stops reading
	 * could block an ack forever; every wait of ours has a timeout, and the
	 * watchdog bounds the sends too.
	 */
	if (!tool_watchdog_install("the broker stopped responding, giving up",
							   EXIT_TIMEOUT) ||
		!tool_watchdog_arm(opt.timeout_ms + WATCHDOG_GRACE_MS))
	{
		perror(PROG ": cannot arm the watchdog");
		free(opt.binds);
		return TOOL_EXIT_LOCAL;
	}

	conn = broker_connect(&opt.broker,
						  opt.timeout_ms < TOOL_CONNECT_TIMEOUT_MS ?
						  opt.timeout_ms : TOOL_CONNECT_TIMEOUT_MS);
	if (conn == NULL)
	{
		free(opt.binds);
		return TOOL_EXIT_BROKER;
	}
	if (!setup_queue(conn, &opt))
	{
		tool_abandon(conn);
		free(opt.binds);
		return TOOL_EXIT_BROKER;
	}
	if (opt.declare_only)
	{
		status = tool_close(conn, false) ? 0 : TOOL_EXIT_BROKER;
		free(opt.binds);
		return status;
	}

	res = consume(conn, &opt, deadline, &received);
	switch (res)
	{
		case TAP_DONE:
		case TAP_TIMEOUT:
			status = res == TAP_DONE ? 0 : EXIT_TIMEOUT;
			if (!tool_close(conn, false) && status == 0)
				status = TOOL_EXIT_BROKER;
			break;
		case TAP_LOCAL_ERROR:
			status = TOOL_EXIT_LOCAL;
			tool_abandon(conn);
			break;
		case TAP_BROKER_ERROR:
		default:
			status = TOOL_EXIT_BROKER;
			tool_abandon(conn);
			break;
	}
	fprintf(stderr, PROG ": %ld messages\n", received);
	free(opt.binds);
	return status;
}
