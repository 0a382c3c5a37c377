/*
 * amqp_link.c
 *		An outbox worker's RabbitMQ connection (rabbitmq-c): connect, check
 *		exchanges, publish a batch in confirm mode and collect the answers.
 *
 * Publisher confirms: after confirm.select every message published on the
 * channel gets a delivery tag (1, 2, ...) and exactly one basic.ack or
 * basic.nack, possibly for many tags at once ("multiple"). A message the
 * broker cannot route comes back first as basic.return (we publish with the
 * mandatory flag) and is then acked; it is matched to the batch by its
 * message_id. A publish to a missing exchange would make the broker close
 * the whole channel, losing the answers of every other message in flight,
 * so each exchange is checked with a passive exchange.declare the first time
 * this connection meets it, before anything of the batch is published.
 *
 * rabbitmq-c's allocations stay inside the connection; nothing here raises
 * a PostgreSQL error between a rabbitmq-c allocation and its release, and
 * the worker closes the link from a before_shmem_exit callback whatever
 * way it exits.
 */
#include "postgres.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#include "nodes/pg_list.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "amqp_link.h"

#define FRAME_MAX 131072
#define CHANNEL 1
#define WAIT_SLICE_MS 100		/* how often a confirm wait looks at *stop */
#define KNOWN_EXCHANGES_MAX 256

struct AmqpLink
{
	amqp_connection_state_t conn;
	bool		channel_open;
	bool		dead;			/* the connection failed: no polite close */
	bool		blocked;		/* connection.blocked received */
	uint64		next_tag;
	List	   *exchanges;		/* names known to exist on this connection */
	int			timeout_ms;
};

/* The socket the SIGTERM handler may shut down; -1 when there is none. */
static volatile int link_fd = -1;

void
amqp_link_interrupt(void)
{
	int			fd = link_fd;

	if (fd >= 0)
		(void) shutdown(fd, SHUT_RDWR);
}

static int64
now_ms(void)
{
	instr_time	t;

	INSTR_TIME_SET_CURRENT(t);
	return (int64) INSTR_TIME_GET_MILLISEC(t);
}

static struct timeval
ms_timeval(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/*
 * Answers the broker's channel.close or connection.close as AMQP asks
 * (close-ok), says why into err ("what: code text"), and updates the
 * link's state; returns the reply code. Both the synchronous replies and
 * the frames read while publishing come here.
 */
static uint16_t
answer_close(AmqpLink *link, amqp_method_number_t id, void *decoded,
			 const char *what, char *err, size_t errlen)
{
	if (id == AMQP_CHANNEL_CLOSE_METHOD)
	{
		amqp_channel_close_t *m = decoded;
		amqp_channel_close_ok_t ok = {0};

		snprintf(err, errlen, "%s: %u %.*s", what, m->reply_code,
				 (int) m->reply_text.len, (char *) m->reply_text.bytes);
		link->channel_open = false;
		if (amqp_send_method(link->conn, CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) != AMQP_STATUS_OK)
			link->dead = true;
		return m->reply_code;
	}
	else
	{
		amqp_connection_close_t *m = decoded;
		amqp_connection_close_ok_t ok = {0};

		snprintf(err, errlen, "%s: %u %.*s", what, m->reply_code,
				 (int) m->reply_text.len, (char *) m->reply_text.bytes);
		(void) amqp_send_method(link->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
		link->dead = true;
		return m->reply_code;
	}
}

/* Describes a failed RPC into err; answers a server's close as AMQP asks. */
static void
describe_reply(AmqpLink *link, amqp_rpc_reply_t r, const char *what,
			   char *err, size_t errlen)
{
	switch (r.reply_type)
	{
		case AMQP_RESPONSE_NORMAL:
			snprintf(err, errlen, "%s: no error", what);
			break;
		case AMQP_RESPONSE_NONE:
			snprintf(err, errlen, "%s: no reply from the broker", what);
			link->dead = true;
			break;
		case AMQP_RESPONSE_LIBRARY_EXCEPTION:
			snprintf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
			link->dead = true;
			break;
		case AMQP_RESPONSE_SERVER_EXCEPTION:
			if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD ||
				r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
				(void) answer_close(link, r.reply.id, r.reply.decoded, what, err, errlen);
			else
			{
				snprintf(err, errlen, "%s: unexpected method 0x%08x from the broker",
						 what, r.reply.id);
				link->dead = true;
			}
			break;
	}
}

/* Opens the channel in confirm mode. */
static bool
open_channel(AmqpLink *link, char *err, size_t errlen)
{
	amqp_rpc_reply_t r;

	(void) amqp_channel_open(link->conn, CHANNEL);
	r = amqp_get_rpc_reply(link->conn);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		describe_reply(link, r, "channel.open", err, errlen);
		return false;
	}
	(void) amqp_confirm_select(link->conn, CHANNEL);
	r = amqp_get_rpc_reply(link->conn);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		describe_reply(link, r, "confirm.select", err, errlen);
		return false;
	}
	link->channel_open = true;
	link->next_tag = 1;
	return true;
}

/* The longest password warden.amqp_password_file may hold. */
#define PASSWORD_MAX 1024

/*
 * The password in path, for a deployment that mounts it from a secret store
 * (a Kubernetes Secret) rather than writing it into warden.amqp_url, where
 * it would sit in postgresql.conf and whatever object renders it. Read at
 * every connect, so a rotated secret is taken by the next connection.
 * Trailing line ends are not part of it. False, with err naming the file
 * (never its content), when it cannot be read, is empty or too long.
 */
static bool
read_password(const char *path, char *out, char *err, size_t errlen)
{
	ssize_t		n = 0;
	ssize_t		got;
	int			fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
	{
		snprintf(err, errlen, "could not open warden.amqp_password_file \"%s\": %s",
				 path, strerror(errno));
		return false;
	}
	/* one byte more than allowed: a longer file is refused, not cut */
	while (n <= PASSWORD_MAX &&
		   (got = read(fd, out + n, PASSWORD_MAX + 1 - n)) != 0)
	{
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
		{
			snprintf(err, errlen, "could not read warden.amqp_password_file \"%s\": %s",
					 path, strerror(errno));
			close(fd);
			explicit_bzero(out, PASSWORD_MAX + 1);
			return false;
		}
		n += got;
	}
	close(fd);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	if (n == 0 || n > PASSWORD_MAX || memchr(out, '\0', n) != NULL)
	{
		snprintf(err, errlen, "warden.amqp_password_file \"%s\" %s", path,
				 n == 0 ? "is empty" : n > PASSWORD_MAX ? "is longer than 1024 bytes" :
				 "holds a NUL byte");
		explicit_bzero(out, PASSWORD_MAX + 1);
		return false;
	}
	out[n] = '\0';
	return true;
}

AmqpLink *
amqp_link_open(const char *url, const char *ca_file, const char *cert_file,
			   const char *key_file, const char *password_file, int timeout_ms,
			   char *err, size_t errlen)
{
	struct amqp_connection_info ci;
	char		password[PASSWORD_MAX + 1];
	size_t		buflen = strlen(url);	/* amqp_parse_url cuts buf up in place */
	char	   *buf;
	AmqpLink   *link;
	amqp_socket_t *sock;
	struct timeval tv = ms_timeval(timeout_ms);
	amqp_rpc_reply_t r;
	int			rc;
	int			one = 1;

	buf = MemoryContextStrdup(TopMemoryContext, url);
	if (amqp_parse_url(buf, &ci) != AMQP_STATUS_OK)
	{
		snprintf(err, errlen, "warden.amqp_url is not an amqp:// or amqps:// URL");
		explicit_bzero(buf, buflen);
		pfree(buf);
		return NULL;
	}
	if (password_file != NULL && password_file[0] != '\0')
	{
		if (!read_password(password_file, password, err, errlen))
		{
			explicit_bzero(buf, buflen);
			pfree(buf);
			return NULL;
		}
		ci.password = password;
	}
	link = MemoryContextAllocZero(TopMemoryContext, sizeof(AmqpLink));
	link->timeout_ms = timeout_ms;
	link->conn = amqp_new_connection();
	if (link->conn == NULL)
	{
		snprintf(err, errlen, "out of memory for an AMQP connection");
		pfree(link);
		pfree(buf);
		return NULL;
	}
	link->dead = true;			/* until logged in */

	sock = ci.ssl ? amqp_ssl_socket_new(link->conn) : amqp_tcp_socket_new(link->conn);
	if (sock == NULL)
	{
		snprintf(err, errlen, "could not create an AMQP socket");
		goto fail;
	}
	if (ci.ssl)
	{
		/* Peer and host name always verified: a broker must prove who it is. */
		amqp_ssl_socket_set_verify_peer(sock, 1);
		amqp_ssl_socket_set_verify_hostname(sock, 1);
		if (amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST) != AMQP_STATUS_OK)
		{
			snprintf(err, errlen, "could not require TLS 1.2 or later");
			goto fail;
		}
		if (ca_file != NULL && ca_file[0] != '\0' &&
			amqp_ssl_socket_set_cacert(sock, ca_file) != AMQP_STATUS_OK)
		{
			snprintf(err, errlen, "could not load warden.amqp_ca_file \"%s\"", ca_file);
			goto fail;
		}
		if (cert_file != NULL && cert_file[0] != '\0' &&
			amqp_ssl_socket_set_key(sock, cert_file, key_file) != AMQP_STATUS_OK)
		{
			snprintf(err, errlen, "could not load warden.amqp_cert_file and warden.amqp_key_file");
			goto fail;
		}
	}
	rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (rc != AMQP_STATUS_OK)
	{
		snprintf(err, errlen, "could not connect to %s:%d: %s",
				 ci.host, ci.port, amqp_error_string2(rc));
		goto fail;
	}
	if (amqp_set_rpc_timeout(link->conn, &tv) != AMQP_STATUS_OK)
	{
		snprintf(err, errlen, "could not set the AMQP RPC timeout");
		goto fail;
	}
	r = amqp_login(link->conn, ci.vhost, 0, FRAME_MAX, 0, AMQP_SASL_METHOD_PLAIN,
				   ci.user, ci.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL)
	{
		char		why[200];

		describe_reply(link, r, "login", why, sizeof(why));
		snprintf(err, errlen, "%s:%d vhost \"%s\": %s", ci.host, ci.port, ci.vhost, why);
		link->dead = true;
		goto fail;
	}
	link->dead = false;
	/* No heartbeats while idle: keepalive finds a vanished broker instead. */
	(void) setsockopt(amqp_get_sockfd(link->conn), SOL_SOCKET, SO_KEEPALIVE,
					  &one, sizeof(one));
	if (!open_channel(link, err, errlen))
		goto fail;
	link_fd = amqp_get_sockfd(link->conn);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(buf, buflen);
	pfree(buf);
	return link;

fail:
	amqp_link_close(link);
	explicit_bzero(password, sizeof(password));
	explicit_bzero(buf, buflen);
	pfree(buf);
	return NULL;
}

void
amqp_link_close(AmqpLink *link)
{
	ListCell   *lc;

	if (link == NULL)
		return;
	link_fd = -1;
	if (!link->dead)
		(void) amqp_connection_close(link->conn, AMQP_REPLY_SUCCESS);
	(void) amqp_destroy_connection(link->conn);
	foreach(lc, link->exchanges)
		pfree(lfirst(lc));
	list_free(link->exchanges);
	pfree(link);
}

int
amqp_link_socket(AmqpLink *link)
{
	return link == NULL || link->dead ? -1 : amqp_get_sockfd(link->conn);
}

/*
 * Handles one frame read outside an RPC. b and msgs are NULL while idle.
 * Returns AMQP_LINK_OK to go on reading.
 */
static AmqpLinkStatus
handle_frame(AmqpLink *link, amqp_frame_t *f, OutboxBatch *b, AmqpMessage *msgs,
			 char *err, size_t errlen)
{
	if (f->frame_type != AMQP_FRAME_METHOD)
		return AMQP_LINK_OK;
	switch (f->payload.method.id)
	{
		case AMQP_BASIC_ACK_METHOD:
			{
				amqp_basic_ack_t *m = f->payload.method.decoded;

				if (b != NULL)
					(void) outbox_confirm(b, m->delivery_tag, m->multiple, true);
				break;
			}
		case AMQP_BASIC_NACK_METHOD:
			{
				amqp_basic_nack_t *m = f->payload.method.decoded;
				int			i;

				if (b == NULL)
					break;
				(void) outbox_confirm(b, m->delivery_tag, m->multiple, false);
				for (i = 0; i < b->n; i++)
					if (b->answer[i] == OUTBOX_NACKED && msgs[i].error == NULL)
						msgs[i].error = "the broker refused the message (basic.nack)";
				break;
			}
		case AMQP_BASIC_RETURN_METHOD:
			{
				amqp_basic_return_t *m = f->payload.method.decoded;
				amqp_message_t msg;
				amqp_rpc_reply_t r;
				char		id[128] = "";
				char		why[160];
				int			i;

				snprintf(why, sizeof(why), "unroutable: %u %.*s", m->reply_code,
						 (int) m->reply_text.len, (char *) m->reply_text.bytes);
				r = amqp_read_message(link->conn, f->channel, &msg, 0);
				if (r.reply_type != AMQP_RESPONSE_NORMAL)
				{
					describe_reply(link, r, "reading a returned message", err, errlen);
					return AMQP_LINK_DOWN;
				}
				if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
					snprintf(id, sizeof(id), "%.*s", (int) msg.properties.message_id.len,
							 (char *) msg.properties.message_id.bytes);
				amqp_destroy_message(&msg);
				if (b != NULL && (i = outbox_returned(b, id)) >= 0)
					msgs[i].error = pstrdup(why);
				break;
			}
		case AMQP_CHANNEL_CLOSE_METHOD:
			{
				bool		not_found = answer_close(link, AMQP_CHANNEL_CLOSE_METHOD,
													 f->payload.method.decoded,
													 "the broker closed the channel",
													 err, errlen) == AMQP_NOT_FOUND;

				if (link->dead)
					return AMQP_LINK_DOWN;
				/* An exchange deleted since it was checked: check them all again. */
				if (not_found)
				{
					ListCell   *lc;

					foreach(lc, link->exchanges)
						pfree(lfirst(lc));
					list_free(link->exchanges);
					link->exchanges = NIL;
				}
				return AMQP_LINK_CHANNEL_LOST;
			}
		case AMQP_CONNECTION_CLOSE_METHOD:
			(void) answer_close(link, AMQP_CONNECTION_CLOSE_METHOD, f->payload.method.decoded,
								"the broker closed the connection", err, errlen);
			return AMQP_LINK_DOWN;
		case AMQP_CONNECTION_BLOCKED_METHOD:
			link->blocked = true;
			break;
		case AMQP_CONNECTION_UNBLOCKED_METHOD:
			link->blocked = false;
			break;
		default:
			break;
	}
	return AMQP_LINK_OK;
}

/* Reads one frame within ms; AMQP_LINK_OK with *got false on timeout. */
static AmqpLinkStatus
read_frame(AmqpLink *link, int ms, OutboxBatch *b, AmqpMessage *msgs, bool *got,
		   char *err, size_t errlen)
{
	amqp_frame_t f;
	struct timeval tv = ms_timeval(ms);
	int			rc;

	*got = false;
	rc = amqp_simple_wait_frame_noblock(link->conn, &f, &tv);
	if (rc == AMQP_STATUS_TIMEOUT)
		return AMQP_LINK_OK;
	if (rc != AMQP_STATUS_OK)
	{
		snprintf(err, errlen, "connection to the broker lost: %s", amqp_error_string2(rc));
		link->dead = true;
		return AMQP_LINK_DOWN;
	}
	*got = true;
	return handle_frame(link, &f, b, msgs, err, errlen);
}

bool
amqp_link_service(AmqpLink *link, char *err, size_t errlen)
{
	for (;;)
	{
		struct pollfd p = {.fd = amqp_get_sockfd(link->conn), .events = POLLIN};
		bool		got;

		if (link->dead)
			return false;
		if (!amqp_frames_enqueued(link->conn) && !amqp_data_in_buffer(link->conn) &&
			poll(&p, 1, 0) <= 0)
			return true;
		if (read_frame(link, 0, NULL, NULL, &got, err, errlen) == AMQP_LINK_DOWN)
			return false;
		if (!got)
			return true;
	}
}

/* Is the exchange there? Sets *refused and *why when the broker says no. */
static AmqpLinkStatus
check_exchange(AmqpLink *link, const char *name, bool *refused, char **why,
			   char *err, size_t errlen)
{
	ListCell   *lc;
	amqp_rpc_reply_t r;
	char		msg[256];

	*refused = false;
	if (name[0] == '\0')
		return AMQP_LINK_OK;	/* the default exchange always exists */
	foreach(lc, link->exchanges)
		if (strcmp(lfirst(lc), name) == 0)
			return AMQP_LINK_OK;

	(void) amqp_exchange_declare(link->conn, CHANNEL, amqp_cstring_bytes(name),
								 amqp_cstring_bytes("direct"), 1, 0, 0, 0, amqp_empty_table);
	r = amqp_get_rpc_reply(link->conn);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		if (list_length(link->exchanges) >= KNOWN_EXCHANGES_MAX)
		{
			pfree(linitial(link->exchanges));
			link->exchanges = list_delete_first(link->exchanges);
		}
		link->exchanges = lappend(link->exchanges, pstrdup(name));
		MemoryContextSwitchTo(old);
		return AMQP_LINK_OK;
	}
	describe_reply(link, r, "exchange check", msg, sizeof(msg));
	if (link->dead)
	{
		strlcpy(err, msg, errlen);
		return AMQP_LINK_DOWN;
	}
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
		r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
		((amqp_channel_close_t *) r.reply.decoded)->reply_code == AMQP_NOT_FOUND)
	{
		*refused = true;
		*why = psprintf("exchange \"%s\" does not exist", name);
	}
	else
		strlcpy(err, msg, errlen);
	/* The broker closed the channel either way; the batch needs it back. */
	if (!open_channel(link, err, errlen))
		return link->dead ? AMQP_LINK_DOWN : AMQP_LINK_CHANNEL_LOST;
	return *refused ? AMQP_LINK_OK : AMQP_LINK_CHANNEL_LOST;
}

AmqpLinkStatus
amqp_link_publish(AmqpLink *link, AmqpMessage *msgs, OutboxBatch *b,
				  int timeout_ms, volatile sig_atomic_t *stop,
				  char *err, size_t errlen)
{
	int64		deadline;
	int			i;

	if (link->dead)
		return AMQP_LINK_DOWN;
	if (!link->channel_open && !open_channel(link, err, errlen))
		return link->dead ? AMQP_LINK_DOWN : AMQP_LINK_CHANNEL_LOST;
	if (!amqp_link_service(link, err, errlen))
		return AMQP_LINK_DOWN;
	if (link->blocked)
	{
		snprintf(err, errlen, "the broker blocks publishing (a resource alarm)");
		return AMQP_LINK_BLOCKED;
	}

	/* Check each new exchange before anything is in flight on the channel. */
	for (i = 0; i < b->n; i++)
	{
		bool		refused;
		char	   *why = NULL;
		AmqpLinkStatus st;
		int			j;

		if (b->answer[i] != OUTBOX_UNSENT)
			continue;
		st = check_exchange(link, msgs[i].exchange, &refused, &why, err, errlen);
		if (st != AMQP_LINK_OK)
			return st;
		if (refused)
			for (j = i; j < b->n; j++)
				if (strcmp(msgs[j].exchange, msgs[i].exchange) == 0)
				{
					b->answer[j] = OUTBOX_REFUSED;
					msgs[j].error = why;
				}
	}

	for (i = 0; i < b->n; i++)
	{
		amqp_basic_properties_t props;
		amqp_bytes_t body;
		int			rc;

		if (b->answer[i] != OUTBOX_UNSENT)
			continue;
		if (*stop)
			return AMQP_LINK_STOPPED;
		memset(&props, 0, sizeof(props));
		props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
			AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
			AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_APP_ID_FLAG;
		props.content_type = amqp_cstring_bytes("application/json");
		props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
		props.message_id = amqp_cstring_bytes(msgs[i].message_id);
		props.timestamp = (uint64_t) msgs[i].timestamp;
		props.headers = msgs[i].headers;
		props.app_id = amqp_cstring_bytes("warden");
		body.bytes = (void *) msgs[i].body;
		body.len = msgs[i].body_len;
		rc = amqp_basic_publish(link->conn, CHANNEL, amqp_cstring_bytes(msgs[i].exchange),
								amqp_cstring_bytes(msgs[i].routing_key), 1, 0, &props, body);
		if (rc != AMQP_STATUS_OK)
		{
			snprintf(err, errlen, "publishing failed: %s", amqp_error_string2(rc));
			link->dead = true;
			return AMQP_LINK_DOWN;
		}
		outbox_sent(b, i, link->next_tag++);
	}

	deadline = now_ms() + timeout_ms;
	while (b->awaiting > 0)
	{
		AmqpLinkStatus st;
		bool		got;
		int64		left = deadline - now_ms();

		if (*stop)
			return AMQP_LINK_STOPPED;
		if (left <= 0)
		{
			snprintf(err, errlen, "no publisher confirm within %d ms", timeout_ms);
			link->dead = true;
			return AMQP_LINK_DOWN;
		}
		st = read_frame(link, (int) Min(left, WAIT_SLICE_MS), b, msgs, &got, err, errlen);
		if (st != AMQP_LINK_OK)
			return st;
	}
	amqp_maybe_release_buffers(link->conn);
	return AMQP_LINK_OK;
}
