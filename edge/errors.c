/*
 * errors.c
 *		The one mapping from a failure to an HTTP response.
 *
 * Handlers and the HTTP layer say what went wrong (a kind, and optionally a
 * sentence for humans); this file alone decides the status code, the stable
 * code string clients may branch on, and the JSON shape. Messages are for
 * people and may change; codes are part of the API.
 *
 * No state; thread-safe.
 */
#include "errors.h"

typedef struct ErrorKind
{
	unsigned	status;
	const char *code;
	const char *message;
} ErrorKind;

/* Indexed by EdgeError. */
static const ErrorKind errors_kinds[] = {
	[EDGE_ERR_BAD_REQUEST] = {400, "bad_request", "malformed request"},
	[EDGE_ERR_NOT_FOUND] = {404, "not_found", "no such endpoint"},
	[EDGE_ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed",
	"method not allowed on this endpoint"},
	[EDGE_ERR_PAYLOAD_TOO_LARGE] = {413, "payload_too_large",
	"request body too large"},
	[EDGE_ERR_TOO_MANY_REQUESTS] = {429, "rate_limited", "too many requests"},
	[EDGE_ERR_INTERNAL] = {500, "internal_error", "internal error"},
	[EDGE_ERR_UNAVAILABLE] = {503, "unavailable",
	"service temporarily unavailable"},
};

bool
errors_respond(HttpRequest *req, EdgeError err, const char *message)
{
	const ErrorKind *kind = &errors_kinds[err];
	json_t	   *body = NULL;

	if (message != NULL)
		body = json_pack("{s:s, s:s}", "error", kind->code,
						 "message", message);
	/* no message, or one that is not UTF-8: the kind's own */
	if (body == NULL)
		body = json_pack("{s:s, s:s}", "error", kind->code,
						 "message", kind->message);
	/* what is unavailable now usually is not a second later */
	if (kind->status == 503 && !http_add_header(req, "Retry-After", "1"))
	{
		json_decref(body);
		return false;
	}
	return http_respond_json(req, kind->status, body);
}
