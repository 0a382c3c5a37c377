/*
 * http.c
 *		The HTTP layer of the edge on libmicrohttpd: the daemon, the life of
 *		one request, dispatch through the route table, JSON responses and
 *		the access log.
 *
 * The life of a request, as libmicrohttpd calls http_access():
 *	0. the request line is in (http_uri_log): allocate the HttpRequest with
 *	   the request target as the client sent it.
 *	1. first call (headers complete): start its
 *	   clock, count it in flight, find its route and request id. Nothing is
 *	   answered here except a declared body that is too large: a response
 *	   queued on the first call makes libmicrohttpd close the connection,
 *	   and keep-alive is worth about five times the throughput.
 *	2. calls with upload data: buffer the body for routes that take one,
 *	   discard it for the rest, up to a limit.
 *	3. last call (no upload data): dispatch to the handler, which queues
 *	   exactly one JSON response.
 *	4. http_completed() (MHD_OPTION_NOTIFY_COMPLETED), also for aborted
 *	   requests: the access-log line, free the request, count it out.
 *
 * Draining (SIGTERM): http_begin_drain() marks us draining, so every later
 * response carries Connection: close and /readyz answers 503, and stops
 * accepting: each worker's MHD_quiesce_daemon() takes the listening socket
 * out of its poll set, then shutdown(2) makes the kernel refuse new
 * connections at once. The socket itself is closed by http_stop().
 *
 * Threads and locking: one libmicrohttpd daemon per worker thread, in
 * external epoll mode, each run by its loop (httploop.c) and owning its
 * connections; an HttpRequest is only ever touched by the worker of its
 * connection. Shared between threads are only http_in_flight_count and
 * http_draining, both atomics. http_daemons and http_listen_fd belong to
 * the main thread (start, drain, stop); workers never read them.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "httploop.h"
#include "log.h"
#include "metrics.h"
#include "pii.h"
#include "reqid.h"
#include "routes.h"
#include "textfmt.h"
#include "timeutil.h"
#include "tlscert.h"

/*
 * A body nobody reads is still received (so the connection can be kept
 * alive and the real answer, 404 or 405, given), but only this much of it.
 */
#define HTTP_DISCARD_MAX (64 * 1024)
/* Idle keep-alive connections are closed after this many seconds. */
#define HTTP_IDLE_TIMEOUT_S 60
/* Headers a handler may add to its response (Allow, WWW-Authenticate...). */
#define HTTP_EXTRA_HEADERS_MAX 8
/*
 * Room in the request for those headers' names and values: most answers
 * carry a few short ones (the rate limits'), copied here without a malloc
 * each; what does not fit goes to the heap.
 */
#define HTTP_HEADER_SPACE 256
/* Server-Timing entries a request may carry besides total. */
#define HTTP_TIMINGS_MAX 6
/* Longest method name kept for the access log. */
#define HTTP_METHOD_NAME_MAX 15

struct HttpRequest
{
	struct MHD_Connection *connection;
	HttpLoop   *loop;			/* the worker of the connection */
	const HttpRoute *route;		/* NULL: no such path */
	struct timespec started;	/* CLOCK_MONOTONIC, at the first call */
	unsigned	method;			/* HTTP_* bit, 0 for any other method */
	char		method_name[HTTP_METHOD_NAME_MAX + 1];
	char		request_id[REQID_MAX + 1];
	bool		keep_body;		/* buffer the body for the handler */
	size_t		body_limit;
	size_t		body_len;		/* received, kept or not */
	size_t		body_cap;
	char	   *body;			/* NUL-terminated when kept */
	unsigned	status;			/* 0 until a response is queued */
	size_t		bytes;			/* body bytes of the response */
	int			nheaders;
	char	   *headers[HTTP_EXTRA_HEADERS_MAX][2];
	unsigned	header_heap;	/* bit 2i + j: headers[i][j] is malloc'd */
	size_t		header_used;
	char		header_space[HTTP_HEADER_SPACE];
	HttpHandler complete;		/* set while suspended: runs after resume */
	atomic_int	wait;			/* HttpWait, while complete is set */
	int			ntimings;		/* Server-Timing entries */
	const char *timing_name[HTTP_TIMINGS_MAX];
	double		timing_ms[HTTP_TIMINGS_MAX];
	void	   *data;			/* the pending call's, released with the request */
	void		(*data_free) (void *data);
	char		principal[HTTP_PRINCIPAL_MAX + 1];	/* for the access log */
	void	   *call;			/* the database call's (dbcall.c), likewise */
	void		(*call_free) (void *call);
	bool		begun;			/* http_begin() has run */
	bool		failed;			/* finished by http_resume, whose handler failed */
	size_t		target_len;
	char		target[];		/* as sent: path and query, not decoded */
};

/*
 * Where a request waiting for its answer (http_suspend) stands. It starts
 * parked: not suspended in libmicrohttpd, which then calls its handler
 * again at every run of its loop, each call a few instructions. A
 * suspension costs an epoll_ctl to take the connection out of the epoll
 * set and another to put it back, and a read that finds nothing after the
 * resume: on a busy edge, where answers come within a turn or two, more
 * than the rest of the request's own work. A loop with nothing else to do
 * suspends its parked requests for real (httploop_settling), so that it
 * can sleep.
 *
 * Transitions: the loop parks (NONE -> PARKED); http_resume, from any
 * thread, wakes a parked one (-> WOKEN; on the loop's own thread between
 * its runs, where the pool reads its results, it finishes it at once
 * instead: -> NONE, and the answer is queued a turn sooner, with one
 * handler call fewer), or resumes a suspended one
 * (SUSPENDED -> READY, then MHD_resume_connection); the loop, called
 * again, takes WOKEN and READY back to NONE and completes, or suspends a
 * parked one (PARKED -> SUSPENDING -> SUSPENDED; a resume in between
 * leaves RESUME_PENDING, and the loop resumes it itself). A request whose
 * connection ends while it waits (the client left, the daemon stopped)
 * is ORPHANED: its call still refers to it, so http_resume frees it.
 */
typedef enum HttpWait
{
	HTTP_WAIT_NONE,
	HTTP_WAIT_PARKED,
	HTTP_WAIT_WOKEN,
	HTTP_WAIT_SUSPENDING,
	HTTP_WAIT_RESUME_PENDING,
	HTTP_WAIT_SUSPENDED,
	HTTP_WAIT_READY,
	HTTP_WAIT_ORPHANED
} HttpWait;

static struct MHD_Daemon **http_daemons;
static int	http_ndaemons;
static bool http_server_timing;	/* set before the daemons start */
static int	http_listen_fd = -1;
static bool http_quiesced;
static atomic_int http_in_flight_count;
static atomic_bool http_draining;

static const struct
{
	const char *name;
	unsigned	bit;
}			http_methods[] = {
	{"GET", HTTP_GET},
	{"HEAD", HTTP_HEAD},
	{"POST", HTTP_POST},
	{"PUT", HTTP_PUT},
	{"DELETE", HTTP_DELETE},
	{"PATCH", HTTP_PATCH},
	{"OPTIONS", HTTP_OPTIONS},
};

#define HTTP_NMETHODS (sizeof(http_methods) / sizeof(http_methods[0]))

/* --- requests ------------------------------------------------------------ */

/*
 * Remembers the method as a bit, and its name for the access log: at most
 * HTTP_METHOD_NAME_MAX token characters, so an odd method cannot break a
 * log line or carry much of anything.
 */
static void
http_set_method(HttpRequest *req, const char *method)
{
	size_t		i;
	char		c;

	for (i = 0; i < HTTP_NMETHODS; i++)
	{
		if (strcmp(method, http_methods[i].name) == 0)
			req->method = http_methods[i].bit;
	}
	for (i = 0; i < HTTP_METHOD_NAME_MAX && (c = method[i]) != '\0'; i++)
		req->method_name[i] = (c >= 'A' && c <= 'Z') ||
			(c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' ? c : '?';
	req->method_name[i] = '\0';
}

/* The client's X-Request-Id if it is safe to echo, else a fresh one. */
static void
http_set_request_id(HttpRequest *req)
{
	const char *given;

	given = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
										"X-Request-Id");
	if (given != NULL && reqid_valid(given))
		strcpy(req->request_id, given);
	else
		reqid_generate(req->request_id);
}

/* The declared Content-Length, or 0 when absent (chunked or no body). */
static uint64_t
http_declared_length(const HttpRequest *req)
{
	const char *text;
	uint64_t	value = 0;

	text = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
									   MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (text == NULL)
		return 0;
	/* libmicrohttpd has validated it; saturate rather than wrap */
	for (; *text >= '0' && *text <= '9'; text++)
	{
		if (value > UINT64_MAX / 10 - 10)
			return UINT64_MAX;
		value = value * 10 + (uint64_t) (*text - '0');
	}
	return value;
}

typedef struct HttpFraming
{
	int			content_length;
	int			transfer_encoding;
} HttpFraming;

static enum MHD_Result
http_count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	HttpFraming *f = cls;

	(void) kind;
	(void) value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->transfer_encoding++;
	return MHD_YES;
}

/*
 * MHD_OPTION_URI_LOG_CALLBACK, as soon as the request line is in: the
 * request, holding its target as the client sent it. libmicrohttpd then
 * percent-decodes the path it hands to http_access() (where %00 would cut
 * it short and %2F become a slash) and parses the query string itself;
 * handlers that must see one spelling only read the target instead. What
 * this returns is the request's con_cls; NULL closes the connection.
 */
static void *
http_uri_log(void *cls, const char *uri, struct MHD_Connection *connection)
{
	size_t		len = strlen(uri);
	HttpRequest *req = calloc(1, sizeof(*req) + len + 1);

	(void) cls;
	if (req == NULL)
		return NULL;
	req->connection = connection;
	req->loop = httploop_self();
	req->target_len = len;
	memcpy(req->target, uri, len + 1);
	return req;
}

/* The first call: set up the request; answer only an oversized body. */
static enum MHD_Result
http_begin(HttpRequest *req, const char *url, const char *method)
{
	req->begun = true;
	req->started = timeutil_mono_now();
	atomic_fetch_add(&http_in_flight_count, 1);

	http_set_method(req, method);
	http_set_request_id(req);
	req->route = routes_find(url);
	if (req->route != NULL && (req->route->methods & req->method) != 0 &&
		req->route->max_body > 0)
	{
		req->keep_body = true;
		req->body_limit = req->route->max_body;
	}
	else
		req->body_limit = HTTP_DISCARD_MAX;

	/*
	 * Two Content-Lengths, or one beside Transfer-Encoding, leave the
	 * message's end to interpretation: a proxy in front may read it one way
	 * and libmicrohttpd the other (request smuggling). RFC 9112 section
	 * 6.3 lets a server refuse; the answer closes the connection.
	 */
	{
		HttpFraming framing = {0, 0};

		MHD_get_connection_values(req->connection, MHD_HEADER_KIND,
								  http_count_framing, &framing);
		if (framing.content_length > 1 ||
			(framing.content_length > 0 && framing.transfer_encoding > 0))
			return errors_respond(req, EDGE_ERR_BAD_REQUEST,
								  "ambiguous message length") ? MHD_YES : MHD_NO;
	}

	/*
	 * Refusing now costs the connection, but spares reading a body we
	 * will not take (and answers a client that waits for 100 Continue).
	 */
	if (http_declared_length(req) > req->body_limit)
		return errors_respond(req, EDGE_ERR_PAYLOAD_TOO_LARGE, NULL) ?
			MHD_YES : MHD_NO;
	return MHD_YES;
}

/* Appends a piece of the body, or counts it when nobody will read it. */
static enum MHD_Result
http_receive(HttpRequest *req, const char *data, size_t *size)
{
	size_t		n = *size;
	size_t		cap;
	char	   *grown;

	*size = 0;
	if (req->status != 0)
		return MHD_YES;
	if (n > req->body_limit - req->body_len)
	{
		/*
		 * Only a chunked body gets here (declared lengths were checked at
		 * the first call), and libmicrohttpd 0.9.75 cannot queue a response
		 * in the middle of a body: closing is the only answer left.
		 */
		log_write(LOG_LEVEL_INFO, "request body too large, closing",
				  "{s:s, s:I}", "request_id", req->request_id,
				  "limit", (json_int_t) req->body_limit);
		return MHD_NO;
	}
	if (req->keep_body)
	{
		if (req->body_len + n + 1 > req->body_cap)
		{
			cap = req->body_cap > 0 ? req->body_cap : 1024;
			while (cap < req->body_len + n + 1)
				cap *= 2;
			if (cap > req->body_limit + 1)
				cap = req->body_limit + 1;
			grown = realloc(req->body, cap);
			if (grown == NULL)
				return MHD_NO;
			req->body = grown;
			req->body_cap = cap;
		}
		memcpy(req->body + req->body_len, data, n);
		req->body[req->body_len + n] = '\0';
	}
	req->body_len += n;
	return MHD_YES;
}

/* "GET, HEAD, POST" for an Allow header. */
static void
http_format_allow(unsigned methods, char *out, size_t outlen)
{
	size_t		used = 0;
	size_t		i;

	out[0] = '\0';
	for (i = 0; i < HTTP_NMETHODS && used < outlen; i++)
	{
		if (methods & http_methods[i].bit)
			used += snprintf(out + used, outlen - used, "%s%s",
							 used > 0 ? ", " : "", http_methods[i].name);
	}
}

static enum MHD_Result http_run(HttpRequest *req, HttpHandler handler);

const HttpRoute *
http_request_route(const HttpRequest *req)
{
	return req->route;
}

/* The last call: the whole request is here; route it to its handler. */
static enum MHD_Result
http_dispatch(HttpRequest *req)
{
	unsigned	allowed;
	char		allow[64];

	if (req->route == NULL)
		return errors_respond(req, EDGE_ERR_NOT_FOUND, NULL) ? MHD_YES : MHD_NO;

	allowed = req->route->methods;
	if (allowed & HTTP_GET)
		allowed |= HTTP_HEAD;
	if ((req->method & allowed) == 0)
	{
		http_format_allow(allowed, allow, sizeof(allow));
		if (!http_add_header(req, "Allow", allow))
			return MHD_NO;
		return errors_respond(req, EDGE_ERR_METHOD_NOT_ALLOWED, NULL) ?
			MHD_YES : MHD_NO;
	}

	return http_run(req, routes_enter);
}

/*
 * Runs a handler (or the completion of a suspended one) and checks that it
 * answered or suspended the request.
 */
static enum MHD_Result
http_run(HttpRequest *req, HttpHandler handler)
{
	if (!handler(req))
		return MHD_NO;
	if (req->complete != NULL)
		return MHD_YES;			/* suspended: the answer comes later */
	/* a handler that forgot to answer must not leave the client hanging */
	if (req->status == 0)
	{
		log_write(LOG_LEVEL_ERROR, "handler queued no response",
				  "{s:s, s:s}", "route", req->route->path,
				  "request_id", req->request_id);
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL) ? MHD_YES : MHD_NO;
	}
	return MHD_YES;
}

/* A request whose wait is over: its completion runs. */
static enum MHD_Result
http_finish(HttpRequest *req)
{
	HttpHandler complete = req->complete;

	req->complete = NULL;
	return http_run(req, complete);
}

/*
 * A waiting request's handler is called again (see HttpWait): true when
 * its answer came and complete may run; false while it still waits,
 * parked, or suspended from now on when its loop settles.
 */
static bool
http_waited(HttpRequest *req)
{
	int			s = atomic_load(&req->wait);

	if (s == HTTP_WAIT_PARKED && httploop_settling(req->loop) &&
		atomic_compare_exchange_strong(&req->wait, &s, HTTP_WAIT_SUSPENDING))
	{
		httploop_park(req->loop, -1);
		MHD_suspend_connection(req->connection);
		s = HTTP_WAIT_SUSPENDING;
		if (atomic_compare_exchange_strong(&req->wait, &s, HTTP_WAIT_SUSPENDED))
			return false;
		/* resumed while it was being suspended: resumed here, done next run */
		atomic_store(&req->wait, HTTP_WAIT_READY);
		MHD_resume_connection(req->connection);
		httploop_resumed(req->loop);
		return false;
	}
	if (s == HTTP_WAIT_WOKEN)
		httploop_park(req->loop, -1);
	else if (s != HTTP_WAIT_READY)
		return false;			/* parked (or suspended: not called then) */
	atomic_store(&req->wait, HTTP_WAIT_NONE);
	return true;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *connection, const char *url,
			const char *method, const char *version, const char *upload_data,
			size_t *upload_data_size, void **con_cls)
{
	HttpRequest *req = *con_cls;

	(void) cls;
	(void) version;
	(void) connection;
	if (req == NULL)
		return MHD_NO;			/* http_uri_log() found no memory */
	if (!req->begun)
		return http_begin(req, url, method);
	if (req->failed)
		return MHD_NO;			/* a handler run by http_resume failed: close */
	if (*upload_data_size > 0)
		return http_receive(req, upload_data, upload_data_size);
	if (req->status != 0)
		return MHD_YES;
	if (req->complete != NULL)
	{
		/* called again: finish the request once http_resume() said so */
		if (!http_waited(req))
			return MHD_YES;
		return http_finish(req);
	}
	return http_dispatch(req);
}

static const char *
http_termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe)
	{
		case MHD_REQUEST_TERMINATED_COMPLETED_OK:
			return NULL;
		case MHD_REQUEST_TERMINATED_WITH_ERROR:
			return "error";
		case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
			return "timeout";
		case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
			return "shutdown";
		case MHD_REQUEST_TERMINATED_READ_ERROR:
			return "read_error";
		case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
			return "client_abort";
	}
	return "unknown";
}

static pii_mask_config http_log_mask;

/*
 * One access-log line per request. The route, not the path: paths and
 * query strings may carry personal data or tokens. "termination" appears
 * only when the request did not complete normally.
 */
static void
http_access_log(const HttpRequest *req, enum MHD_RequestTerminationCode toe)
{
	double		ms = timeutil_elapsed_ms(&req->started);

	char		principal[HTTP_PRINCIPAL_MAX * 6 + 1];
	size_t		plen = 0;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	/* a principal's name may be an e-mail address: masked like any PII */
	if (req->principal[0] != '\0' &&
		pii_mask(req->principal, strlen(req->principal), &http_log_mask,
				 principal, sizeof(principal), &plen) != PII_OK)
		strcpy(principal, "[unloggable]");
	log_write(LOG_LEVEL_INFO, "request",
			  "{s:s, s:s, s:i, s:f, s:s, s:I, s:s*, s:s*}",
			  "method", req->method_name,
			  "route", req->route != NULL ? req->route->path : "unmatched",
			  "status", (int) req->status,
			  "duration_ms", (double) (int64_t) (ms * 1000.0 + 0.5) / 1000.0,
			  "request_id", req->request_id,
			  "bytes", (json_int_t) req->bytes,
			  "principal", req->principal[0] != '\0' ? principal : NULL,
			  "termination", http_termination_name(toe));
}

static void
http_request_free(HttpRequest *req)
{
	int			i;

	for (i = 0; i < req->nheaders; i++)
	{
		for (int j = 0; j < 2; j++)
			if (req->header_heap & (1u << (2 * i + j)))
				free(req->headers[i][j]);
	}
	free(req->body);
	if (req->call != NULL)
		(req->call_free != NULL ? req->call_free : free) (req->call);
	if (req->data != NULL)
		(req->data_free != NULL ? req->data_free : free) (req->data);
	free(req);
}

/*
 * The request's connection ended: true when a call still refers to the
 * request (it waits for an answer), which http_resume then frees.
 */
static bool
http_orphan(HttpRequest *req)
{
	int			s = atomic_load(&req->wait);

	for (;;)
	{
		if (s != HTTP_WAIT_PARKED && s != HTTP_WAIT_SUSPENDED)
			break;
		if (atomic_compare_exchange_strong(&req->wait, &s, HTTP_WAIT_ORPHANED))
		{
			if (s == HTTP_WAIT_PARKED)
				httploop_park(req->loop, -1);
			req->connection = NULL;
			return true;
		}
	}
	if (s == HTTP_WAIT_WOKEN)
		httploop_park(req->loop, -1);
	return false;
}

/* MHD_OPTION_NOTIFY_COMPLETED: every request ends here, answered or not. */
static void
http_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	HttpRequest *req = *con_cls;

	(void) cls;
	(void) connection;
	if (req == NULL)
		return;
	*con_cls = NULL;
	if (!req->begun)
	{
		/* the headers never came in (too large, or the client left) */
		http_request_free(req);
		return;
	}
	http_access_log(req, toe);
	metrics_observe(req->route, req->status, timeutil_elapsed_ms(&req->started));
	atomic_fetch_sub(&http_in_flight_count, 1);
	if (http_orphan(req))
		return;
	http_request_free(req);
}

/* --- responses ----------------------------------------------------------- */

const char *
http_request_id(const HttpRequest *req)
{
	return req->request_id;
}

unsigned
http_request_method(const HttpRequest *req)
{
	return req->method;
}

/* The method's name (sanitised as for the access log). */
const char *
http_request_method_name(const HttpRequest *req)
{
	return req->method_name;
}

const char *
http_request_header(const HttpRequest *req, const char *name)
{
	return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

typedef struct HttpHeaderValues
{
	const char *name;
	const char **values;
	int			max;
	int			n;
} HttpHeaderValues;

static enum MHD_Result
http_collect_values(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	HttpHeaderValues *h = cls;

	(void) kind;
	if (strcasecmp(key, h->name) != 0)
		return MHD_YES;
	if (h->n < h->max && value != NULL)
		h->values[h->n] = value;
	h->n++;
	return MHD_YES;
}

/*
 * Every value of a header given more than once (X-Forwarded-For), in the
 * order received, into values[0..max). Returns how many there are, which
 * may be more than max (the caller decides what that means).
 */
int
http_request_header_values(const HttpRequest *req, const char *name,
						   const char **values, int max)
{
	HttpHeaderValues h = {name, values, max, 0};

	MHD_get_connection_values(req->connection, MHD_HEADER_KIND,
							  http_collect_values, &h);
	return h.n;
}

/*
 * The TCP peer's address as text ("10.0.0.1", "::1"); false when
 * libmicrohttpd does not say (not for a TCP connection).
 */
bool
http_request_peer(const HttpRequest *req, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *info;
	const struct sockaddr *sa;

	info = MHD_get_connection_info(req->connection,
								   MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || (sa = info->client_addr) == NULL)
		return false;
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
						 out, (socklen_t) outlen) != NULL;
	if (sa->sa_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr,
						 out, (socklen_t) outlen) != NULL;
	return false;
}

/*
 * The request target (path and query string) exactly as the client sent
 * it: not percent-decoded, NUL-terminated.
 */
const char *
http_request_target(const HttpRequest *req, size_t *len)
{
	*len = req->target_len;
	return req->target;
}

/* The body, if the route takes one; NULL and 0 otherwise. */
const char *
http_request_body(const HttpRequest *req, size_t *len)
{
	*len = req->keep_body ? req->body_len : 0;
	return req->keep_body ? req->body : NULL;
}

/*
 * From a handler: the answer is not ready (it waits for the database). The
 * request waits until http_resume() (parked, or suspended: see HttpWait);
 * then complete runs, on the connection's thread, and answers. Call before
 * handing the request to another thread, so that a quick resume can never
 * precede the suspend.
 */
void
http_suspend(HttpRequest *req, HttpHandler complete)
{
	req->complete = complete;
	atomic_store(&req->wait, HTTP_WAIT_PARKED);
	httploop_park(req->loop, 1);
}

/*
 * Adds a Server-Timing entry (name: a constant token) to the answer, shown
 * when WARDEN_SERVER_TIMING is on; a name given again adds to its entry (a
 * request that makes several database calls shows their sum). Called on
 * the request's thread.
 */
void
http_add_timing(HttpRequest *req, const char *name, double ms)
{
	int			i;

	for (i = 0; i < req->ntimings; i++)
	{
		if (strcmp(req->timing_name[i], name) == 0)
		{
			req->timing_ms[i] += ms;
			return;
		}
	}
	if (req->ntimings < HTTP_TIMINGS_MAX)
	{
		req->timing_name[req->ntimings] = name;
		req->timing_ms[req->ntimings] = ms;
		req->ntimings++;
	}
}

void
http_set_server_timing(bool on)
{
	http_server_timing = on;
}

/*
 * A handler's per-request state, released with the request by data_free
 * (NULL: free()).
 */
void
http_set_data(HttpRequest *req, void *data, void (*data_free) (void *data))
{
	if (req->data != NULL)
		(req->data_free != NULL ? req->data_free : free) (req->data);
	req->data = data;
	req->data_free = data_free;
}

void *
http_data(const HttpRequest *req)
{
	return req->data;
}

/* Who the request turned out to be, for its access-log line. */
void
http_set_principal(HttpRequest *req, const char *principal)
{
	textfmt_copy(req->principal, sizeof(req->principal), principal);
}

/*
 * Takes the handler's state out of the request without releasing it: the
 * caller now owns it (and *data_free, how to release it). A module that
 * needs the slot for a while (the rate limiter) keeps the state aside and
 * puts it back with http_set_data.
 */
void *
http_take_data(HttpRequest *req, void (**data_free) (void *data))
{
	void	   *data = req->data;

	if (data_free != NULL)
		*data_free = req->data_free;
	req->data = NULL;
	req->data_free = NULL;
	return data;
}

/*
 * The call the request waits on (dbcall.c and rediscall.c keep their
 * state here, apart from the handler's own data), released with the request
 * or when the next call replaces it: a handler reads a call's result
 * before it makes the next.
 */
void
http_set_call(HttpRequest *req, void *call, void (*call_free) (void *call))
{
	if (req->call != NULL)
		(req->call_free != NULL ? req->call_free : free) (req->call);
	req->call = call;
	req->call_free = call_free;
}

void *
http_call(const HttpRequest *req)
{
	return req->call;
}

/*
 * From any thread, once per http_suspend(). The request may be answered
 * and freed by its worker as soon as it is woken or resumed: nothing of it
 * is read after that (its loop and, while suspended, its connection
 * outlive it).
 */
void
http_resume(HttpRequest *req)
{
	HttpLoop   *loop = req->loop;
	struct MHD_Connection *connection = req->connection;
	int			s = atomic_load(&req->wait);

	for (;;)
	{
		switch (s)
		{
			case HTTP_WAIT_PARKED:
				if (httploop_between_runs(loop))
				{
					/*
					 * On its loop, between runs (the pool's dispatch): the
					 * answer is made here, a turn sooner, and libmicrohttpd
					 * sends it at its next run.
					 */
					atomic_store(&req->wait, HTTP_WAIT_NONE);
					httploop_park(loop, -1);
					if (http_finish(req) == MHD_NO)
						req->failed = true;
					return;
				}
				if (!atomic_compare_exchange_strong(&req->wait, &s, HTTP_WAIT_WOKEN))
					continue;
				httploop_resumed(loop);
				return;
			case HTTP_WAIT_SUSPENDING:
				/* the loop is suspending it: it resumes it itself */
				if (!atomic_compare_exchange_strong(&req->wait, &s, HTTP_WAIT_RESUME_PENDING))
					continue;
				return;
			case HTTP_WAIT_SUSPENDED:
				if (!atomic_compare_exchange_strong(&req->wait, &s, HTTP_WAIT_READY))
					continue;
				MHD_resume_connection(connection);
				httploop_resumed(loop);
				return;
			case HTTP_WAIT_ORPHANED:
				/* its connection is gone: the request ends with its call */
				http_request_free(req);
				return;
			default:
				log_write(LOG_LEVEL_ERROR, "request resumed twice", NULL);
				return;
		}
	}
}

/*
 * Stores text as headers[i][j]: in the request's own space if it fits,
 * else on the heap. Replaces nothing; false when out of memory.
 */
static bool
http_header_store(HttpRequest *req, int i, int j, const char *text)
{
	size_t		len = strlen(text) + 1;
	unsigned	bit = 1u << (2 * i + j);
	char	   *copy;

	if (len <= sizeof(req->header_space) - req->header_used)
	{
		req->headers[i][j] = memcpy(req->header_space + req->header_used, text, len);
		req->header_used += len;
		req->header_heap &= ~bit;
		return true;
	}
	if ((copy = strdup(text)) == NULL)
		return false;
	req->headers[i][j] = copy;
	req->header_heap |= bit;
	return true;
}

/* Adds a header to the response this request will get. */
bool
http_add_header(HttpRequest *req, const char *name, const char *value)
{
	int			i = req->nheaders;

	if (i == HTTP_EXTRA_HEADERS_MAX)
		return false;
	if (!http_header_store(req, i, 0, name))
		return false;
	if (!http_header_store(req, i, 1, value))
	{
		if (req->header_heap & (1u << (2 * i)))
			free(req->headers[i][0]);
		return false;
	}
	req->nheaders++;
	return true;
}

/* The value of a header added to the response so far, or NULL. */
const char *
http_response_header(const HttpRequest *req, const char *name)
{
	int			i;

	for (i = 0; i < req->nheaders; i++)
	{
		if (strcasecmp(req->headers[i][0], name) == 0)
			return req->headers[i][1];
	}
	return NULL;
}

/* Adds a header to the response, or replaces the value it was added with. */
bool
http_set_header(HttpRequest *req, const char *name, const char *value)
{
	int			i;

	for (i = 0; i < req->nheaders; i++)
	{
		if (strcasecmp(req->headers[i][0], name) == 0)
		{
			char	   *old = req->headers[i][1];
			bool		heap = req->header_heap & (1u << (2 * i + 1));

			if (!http_header_store(req, i, 1, value))
				return false;
			if (heap)
				free(old);
			return true;
		}
	}
	return http_add_header(req, name, value);
}

static bool
http_response_headers(const HttpRequest *req, struct MHD_Response *resp,
					  const char *content_type)
{
	bool		ok;
	int			i;

	bool		cache_control = false;

	ok = MHD_add_response_header(resp, "X-Request-Id",
								 req->request_id) == MHD_YES;
	if (ok && content_type != NULL)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
									 content_type) == MHD_YES;
	for (i = 0; ok && i < req->nheaders; i++)
	{
		ok = MHD_add_response_header(resp, req->headers[i][0],
									 req->headers[i][1]) == MHD_YES;
		cache_control |= strcasecmp(req->headers[i][0], "Cache-Control") == 0;
	}
	if (ok && http_server_timing)
	{
		char		timing[256];
		size_t		used = 0;
		int			k;

		for (k = 0; k < req->ntimings && used < sizeof(timing); k++)
			used += snprintf(timing + used, sizeof(timing) - used, "%s;dur=%.3f, ",
							 req->timing_name[k], req->timing_ms[k]);
		if (used < sizeof(timing))
			snprintf(timing + used, sizeof(timing) - used, "total;dur=%.3f",
					 timeutil_elapsed_ms(&req->started));
		ok = MHD_add_response_header(resp, "Server-Timing", timing) == MHD_YES;
	}
	/* nothing is cached unless its handler says how */
	if (ok && !cache_control)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
									 "no-store") == MHD_YES;
	/* a draining edge lets each connection go after its current answer */
	if (ok && atomic_load(&http_draining))
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
									 "close") == MHD_YES;
	return ok;
}

/*
 * Queues the one response of req: status and body (a reference this call
 * takes over, NULL only after an allocation failure). Returns false if
 * nothing could be queued; the caller then lets the connection close.
 */
bool
http_respond_json(HttpRequest *req, unsigned status, json_t *body)
{
	char	   *text;

	if (body == NULL)
		return false;
	text = req->status == 0 ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return false;
	return http_respond_text(req, status, "application/json", text);
}

/*
 * Queues the one response of req with a body of this content type: text,
 * malloc'd, which this call takes over.
 */
bool
http_respond_text(HttpRequest *req, unsigned status, const char *content_type,
				  char *text)
{
	struct MHD_Response *resp;
	size_t		len = strlen(text);
	bool		ok;

	if (req->status != 0)
	{
		free(text);
		return false;
	}
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
	{
		free(text);
		return false;
	}
	ok = http_response_headers(req, resp, content_type) &&
		MHD_queue_response(req->connection, status, resp) == MHD_YES;
	MHD_destroy_response(resp);
	if (ok)
	{
		req->status = status;
		req->bytes = req->method == HTTP_HEAD ? 0 : len;
	}
	return ok;
}

/* Queues a response without a body (304 Not Modified). */
bool
http_respond_empty(HttpRequest *req, unsigned status)
{
	struct MHD_Response *resp;
	bool		ok;

	if (req->status != 0)
		return false;
	resp = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return false;
	ok = http_response_headers(req, resp, NULL) &&
		MHD_queue_response(req->connection, status, resp) == MHD_YES;
	MHD_destroy_response(resp);
	if (ok)
		req->status = status;
	return ok;
}

/* --- the daemon ---------------------------------------------------------- */

/* MHD_OPTION_EXTERNAL_LOGGER: libmicrohttpd's complaints, as warn lines. */
static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		text[512];
	size_t		n;
	size_t		i;

	(void) cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	/* its messages are ASCII; anything else would be dropped by jansson */
	for (i = 0; i < n; i++)
	{
		if ((unsigned char) text[i] < 0x20 || (unsigned char) text[i] > 0x7e)
			text[i] = '?';
	}
	log_write(LOG_LEVEL_WARN, "libmicrohttpd", "{s:s}", "detail", text);
}

/*
 * Starts serving on listen_fd, which is ours from now on, even if
 * starting fails.
 *
 * A daemon per worker, each in external epoll mode on a duplicate of the
 * listening socket (libmicrohttpd closes its own at stop), run by a loop
 * of httploop.c that also drives work (the primary's pool shard): see
 * there why. The kernel hands each new connection to one of the workers
 * waiting in accept; the others find nothing and go on.
 */
bool
http_start(int listen_fd, int threads, const HttpTls *tls,
		   const HttpLoopWork *work, char *err, size_t errlen)
{
	struct MHD_OptionItem opts[4];
	int			n = 0;

	/*
	 * Suspend and resume without libmicrohttpd's inter-thread channel,
	 * which external mode has not: httploop_resumed() wakes the loop.
	 */
	unsigned int flags = MHD_USE_EPOLL |
		(MHD_ALLOW_SUSPEND_RESUME & ~MHD_USE_ITC) | MHD_USE_ERROR_LOG;

	http_listen_fd = listen_fd;
	pii_mask_config_init(&http_log_mask, PII_STYLE_PARTIAL);
	if (tls != NULL)
	{
		/*
		 * GnuTLS priorities: its NORMAL set (no export or anonymous
		 * suites), protocol versions narrowed to 1.3, or 1.3 and 1.2.
		 */
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		{
			snprintf(err, errlen, "this libmicrohttpd has no TLS support");
			return false;
		}
		flags |= MHD_USE_TLS;
		/* asked at every handshake, so that a reload (SIGHUP) takes effect */
		opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
			(void *) tlscert_retrieve};
		opts[n++] = (struct MHD_OptionItem) {MHD_OPTION_HTTPS_PRIORITIES, 0,
			(void *) (tls->allow_tls12 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" :
					  "NORMAL:-VERS-ALL:+VERS-TLS1.3")};
	}
	opts[n] = (struct MHD_OptionItem) {MHD_OPTION_END, 0, NULL};

	http_daemons = calloc((size_t) threads, sizeof(*http_daemons));
	if (http_daemons == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (http_ndaemons = 0; http_ndaemons < threads; http_ndaemons++)
	{
		int			fd = dup(listen_fd);

		if (fd < 0)
		{
			snprintf(err, errlen, "could not duplicate the listening socket: %s",
					 strerror(errno));
			return false;
		}

		/*
		 * The logger goes first: libmicrohttpd reports problems with the
		 * options that follow it through whatever logger is set at that
		 * point.
		 */
		http_daemons[http_ndaemons] =
			MHD_start_daemon(flags,
							 0, NULL, NULL, http_access, NULL,
							 MHD_OPTION_EXTERNAL_LOGGER,
							 http_mhd_log, NULL,
							 MHD_OPTION_URI_LOG_CALLBACK,
							 http_uri_log, NULL,
							 MHD_OPTION_LISTEN_SOCKET, fd,
							 MHD_OPTION_CONNECTION_TIMEOUT,
							 (unsigned int) HTTP_IDLE_TIMEOUT_S,
							 MHD_OPTION_NOTIFY_COMPLETED,
							 http_completed, NULL,
							 MHD_OPTION_ARRAY, opts,
							 MHD_OPTION_END);
		if (http_daemons[http_ndaemons] == NULL)
		{
			snprintf(err, errlen, "libmicrohttpd failed to start (see its "
					 "messages above)");
			return false;
		}
	}
	return httploop_start(http_daemons, http_ndaemons, work, err, errlen);
}

/*
 * Stops taking new connections but lets requests in flight finish; from
 * now on every response closes its connection.
 */
void
http_begin_drain(void)
{
	atomic_store(&http_draining, true);
	if (http_ndaemons == 0 || http_quiesced)
		return;
	http_quiesced = true;
	httploop_quiesce(1000);
	/* refuse new connections now; close(2) must wait for http_stop() */
	if (shutdown(http_listen_fd, SHUT_RDWR) != 0)
		log_write(LOG_LEVEL_WARN, "shutdown of the listening socket failed",
				  "{s:s}", "error", strerror(errno));
}

bool
http_is_draining(void)
{
	return atomic_load(&http_draining);
}

int
http_in_flight(void)
{
	return atomic_load(&http_in_flight_count);
}

/* Closes every connection (aborting what is still in flight) and frees. */
void
http_stop(void)
{
	httploop_stop();
	for (int i = 0; i < http_ndaemons; i++)
		if (http_daemons[i] != NULL)
			MHD_stop_daemon(http_daemons[i]);
	free(http_daemons);
	http_daemons = NULL;
	http_ndaemons = 0;
	if (http_listen_fd >= 0)
	{
		close(http_listen_fd);
		http_listen_fd = -1;
	}
}
