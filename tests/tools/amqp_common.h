/*
 * amqp_common.h
 *		What the AMQP helper programs share: tests/tools/amqp_tap.c (the
 *		tests' consumer) and bench/amqp_ref.c (the benchmark's reference
 *		publisher).  Connecting and logging in, closing, broker error
 *		reports, frame waits, the watchdog, clocks and option parsing.
 *
 * Every message this module prints goes to stderr as "<progname>: ...",
 * with the name each program defines as tool_progname, so both keep their
 * own wording.  Functions that can fail say so on stderr and return false
 * (or NULL), leaving the exit status to the program; only a failing clock
 * (tool_now_ns: nothing left to measure) and --help (tool_parse_args) end
 * the process here.
 */
#ifndef AMQP_COMMON_H
#define AMQP_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_framing.h>

/* the one channel each program uses, opened by tool_connect */
#define TOOL_CHANNEL		1
#define TOOL_NS_PER_MS		((uint64_t) 1000000)
#define TOOL_NS_PER_S		((uint64_t) 1000000000)
/* connecting and logging in, unless the caller's own limit is shorter */
#define TOOL_CONNECT_TIMEOUT_MS	10000
/* each RPC (declare, bind, close ...) */
#define TOOL_RPC_TIMEOUT_MS	15000
#define TOOL_DEFAULT_CACERT	"/etc/ssl/certs/ca-certificates.crt"

/* exit statuses every program shares; 3 means something of its own */
#define TOOL_EXIT_USAGE		1
#define TOOL_EXIT_LOCAL		1
#define TOOL_EXIT_BROKER	2

/* defined by each program: the prefix of its messages */
extern const char tool_progname[];

/* clocks (monotonic) and timeouts */
extern uint64_t tool_now_ns(void);
extern int64_t tool_now_ms(void);
extern struct timeval tool_timeval(int64_t ms);

/* where to connect: --url and --cacert, which every program takes */
typedef struct tool_broker
{
	const char *url;			/* amqp[s]://user:password@host:port/vhost */
	const char *cacert;			/* CA bundle to verify an amqps broker by */
} tool_broker;

/*
 * The command line: long options only.  A program's longopts end with
 * TOOL_LONGOPTS, which tool_parse_args handles itself; take() gets the
 * program's own.
 */
#define TOOL_LONGOPTS \
	{"url", required_argument, NULL, 'u'}, \
	{"cacert", required_argument, NULL, 'c'}, \
	{"help", no_argument, NULL, 'h'}, \
	{NULL, 0, NULL, 0}

typedef bool (*tool_take_option) (int c, const char *arg, void *ctx);

extern bool tool_parse_args(int argc, char **argv,
							const struct option *longopts,
							tool_broker *broker, tool_take_option take,
							void *ctx, void (*usage) (FILE *f));
extern bool tool_parse_long(const char *s, long min, long max, long *out);
extern bool tool_parse_positive_double(const char *s, double max,
									   double *out);
extern bool tool_option_long(const char *name, const char *arg, long min,
							 long max, const char *expected, long *out);
extern bool tool_option_double(const char *name, const char *arg, double max,
							   const char *expected, double *out);

/* the watchdog: SIGALRM ends the process with a message and a status */
extern bool tool_watchdog_install(const char *why, int status);
extern bool tool_watchdog_arm(int64_t ms);

/* broker errors */
extern bool tool_rpc_ok(amqp_connection_state_t conn, const char *what);
extern bool tool_report_close(const amqp_frame_t *frame);
extern void tool_answer_close(amqp_connection_state_t conn,
							  const amqp_frame_t *frame);

/* connections */
extern amqp_connection_state_t tool_connect(const tool_broker *broker,
											int64_t timeout_ms,
											const amqp_table_t *client_props,
											bool *ssl);
extern bool tool_close(amqp_connection_state_t conn, bool close_channel);
extern void tool_abandon(amqp_connection_state_t conn);
extern int	tool_wait_frame(amqp_connection_state_t conn, amqp_frame_t *frame,
							int64_t ms);

#endif							/* AMQP_COMMON_H */
