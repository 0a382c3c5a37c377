/*
 * amqp_link.h
 *		An outbox worker's connection to RabbitMQ: one channel in confirm
 *		mode, batches published with the mandatory flag, and the broker's
 *		answers (ack, nack, return, refused exchange) recorded per message.
 *
 * Nothing here raises a PostgreSQL error while rabbitmq-c owns memory that
 * would leak: failures come back as a status and a message in the link.
 */
#ifndef WARDEN_AMQP_LINK_H
#define WARDEN_AMQP_LINK_H

#include <signal.h>

#include <amqp.h>

#include "outbox.h"

typedef enum AmqpLinkStatus
{
	AMQP_LINK_OK,				/* every message has an answer */
	AMQP_LINK_CHANNEL_LOST,		/* the broker closed the channel; reopened next time */
	AMQP_LINK_DOWN,				/* the connection is gone: close and reconnect */
	AMQP_LINK_BLOCKED,			/* the broker blocks publishers (resource alarm) */
	AMQP_LINK_STOPPED			/* the worker was asked to stop */
} AmqpLinkStatus;

/* One message as the link publishes it. */
typedef struct AmqpMessage
{
	const char *exchange;
	const char *routing_key;
	const char *message_id;		/* also matches a basic.return to it */
	const char *body;
	size_t		body_len;
	int64		timestamp;		/* Unix seconds */
	amqp_table_t headers;
	const char *error;			/* out: why it failed (static or palloc'd) */
} AmqpMessage;

typedef struct AmqpLink AmqpLink;

/*
 * Connects and opens a confirm-mode channel. Returns NULL on failure with a
 * message in err that names the broker by host, port and vhost only: a URL
 * carries a password. password_file, when not empty, holds the password
 * instead of the URL.
 */
extern AmqpLink *amqp_link_open(const char *url, const char *ca_file,
								const char *cert_file, const char *key_file,
								const char *password_file, int timeout_ms,
								char *err, size_t errlen);
extern void amqp_link_close(AmqpLink *link);

/* The socket, to wait on while idle; -1 if none. */
extern int	amqp_link_socket(AmqpLink *link);

/*
 * Reads what the broker sent while the worker was idle (a connection.close
 * during a broker shutdown, connection.blocked). False when the link is
 * gone.
 */
extern bool amqp_link_service(AmqpLink *link, char *err, size_t errlen);

/*
 * Publishes msgs[0..n-1] in order (those whose answer in b is not already
 * set, e.g. OUTBOX_REFUSED) and waits up to timeout_ms for their
 * confirms, recording every answer in b. Stops early when *stop becomes
 * true. Exchanges are checked (passive declare) the first time the link
 * meets them: a missing one refuses its messages without disturbing the
 * rest of the batch.
 */
extern AmqpLinkStatus amqp_link_publish(AmqpLink *link, AmqpMessage *msgs,
										OutboxBatch *b, int timeout_ms,
										volatile sig_atomic_t *stop,
										char *err, size_t errlen);

/*
 * For the SIGTERM handler: shuts the socket down, so that a send blocked on
 * a broker that stopped reading returns at once. Async-signal-safe.
 */
extern void amqp_link_interrupt(void);

#endif							/* WARDEN_AMQP_LINK_H */
