/*
 * http.h
 *		The HTTP layer of the edge: the libmicrohttpd daemon, the life of one
 *		request, dispatch through the route table and JSON responses.
 *
 * A handler gets an HttpRequest whose body (if its route takes one) has been
 * read completely, and answers it with exactly one http_respond_json() call,
 * usually through errors_respond() for failures. Every response is JSON and
 * carries X-Request-Id; the access log line is written when the request is
 * finished, naming the route, never the raw path or query string.
 *
 * A handler that needs the database suspends the request (http_suspend)
 * and hands it to the database pool, which resumes it when done (usually
 * on the same worker, which drives its share of the pool; see httploop.h);
 * its completion handler then answers on the connection's own thread.
 *
 * Threads: handlers run on the HTTP workers (httploop.c), many at once;
 * an HttpRequest belongs to the one worker that serves its connection, so
 * it needs no locking. The daemons' own state is atomics (see http.c).
 */
#ifndef EDGE_HTTP_H
#define EDGE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "httploop.h"

/* Methods as bits, for route tables. HEAD is allowed wherever GET is. */
#define HTTP_GET		(1u << 0)
#define HTTP_HEAD		(1u << 1)
#define HTTP_POST		(1u << 2)
#define HTTP_PUT		(1u << 3)
#define HTTP_DELETE		(1u << 4)
#define HTTP_PATCH		(1u << 5)
#define HTTP_OPTIONS	(1u << 6)

/* A principal's name, as warden.principals allows it. */
#define HTTP_PRINCIPAL_MAX 256

typedef struct HttpRequest HttpRequest;

/* Returns false only if no response could be queued (the connection closes). */
typedef bool (*HttpHandler) (HttpRequest *req);

typedef struct HttpRoute
{
	const char *path;			/* exact match; also its access-log name */
	unsigned	methods;		/* HTTP_* bits */
	size_t		max_body;		/* bytes buffered for the handler; 0: none */
	HttpHandler handler;
	const char *prefix;			/* set: matches every path under it instead,
								 * and path is only the route's name */
	unsigned	limits;			/* rate limits (ratelimit.h) checked before
								 * the handler runs; 0: none */
} HttpRoute;

/* The route the request matched (NULL: none). */
extern const HttpRoute *http_request_route(const HttpRequest *req);

/*
 * HTTPS: the certificate and key come from tlscert.c at every handshake
 * (tlscert_load() first), so SIGHUP can replace them.
 */
typedef struct HttpTls
{
	bool		allow_tls12;
} HttpTls;

/*
 * The daemons, from the main thread. tls NULL: plain HTTP. work: what each
 * worker's loop drives besides (httploop.h), or NULL. http_stop() cleans
 * up after a failed start too.
 */
extern bool http_start(int listen_fd, int threads, const HttpTls *tls,
					   const HttpLoopWork *work, char *err, size_t errlen);
extern void http_begin_drain(void);
extern bool http_is_draining(void);
extern int	http_in_flight(void);
extern void http_stop(void);

/* For handlers. */
extern const char *http_request_id(const HttpRequest *req);
extern unsigned http_request_method(const HttpRequest *req);
extern const char *http_request_method_name(const HttpRequest *req);
extern const char *http_request_header(const HttpRequest *req,
									   const char *name);
extern const char *http_request_target(const HttpRequest *req, size_t *len);
extern const char *http_request_body(const HttpRequest *req, size_t *len);
extern int	http_request_header_values(const HttpRequest *req, const char *name,
									   const char **values, int max);
extern bool http_request_peer(const HttpRequest *req, char *out, size_t outlen);
extern bool http_add_header(HttpRequest *req, const char *name,
							const char *value);
extern bool http_set_header(HttpRequest *req, const char *name,
							const char *value);
extern const char *http_response_header(const HttpRequest *req,
										const char *name);
extern bool http_respond_json(HttpRequest *req, unsigned status,
							  json_t *body);
extern bool http_respond_text(HttpRequest *req, unsigned status,
							  const char *content_type, char *text);
extern bool http_respond_empty(HttpRequest *req, unsigned status);
extern void http_add_timing(HttpRequest *req, const char *name, double ms);
extern void http_set_server_timing(bool on);
extern void http_set_data(HttpRequest *req, void *data,
						  void (*data_free) (void *data));
extern void *http_data(const HttpRequest *req);
extern void http_set_principal(HttpRequest *req, const char *principal);
extern void *http_take_data(HttpRequest *req, void (**data_free) (void *data));
extern void http_set_call(HttpRequest *req, void *call,
						  void (*call_free) (void *call));
extern void *http_call(const HttpRequest *req);
extern void http_suspend(HttpRequest *req, HttpHandler complete);
extern void http_resume(HttpRequest *req);

#endif							/* EDGE_HTTP_H */
