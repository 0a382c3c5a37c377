/*
 * errors.c
 *		The one mapping from a failure to an HTTP response.
 *
 * Handlers and the HTTP layer say what went wrong (a kind, and optionally a
 * sentence for humans); this file alone decides the status code, the stable
 * code string clients may branch on, and the JSON shape. Messages are for
 * people and may change; codes are part of the API. PostgreSQL errors of
 * functions called through /v1/rpc map by SQLSTATE, in one table here too.
 *
 * No state; thread-safe.
 */
#include "errors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pii.h"

typedef struct ErrorKind
{
	unsigned	status;
	const char *code;
	const char *message;
} ErrorKind;

/* Indexed by EdgeError. */
static const ErrorKind errors_kinds[] = {
	[EDGE_ERR_BAD_REQUEST] = {400, "bad_request", "malformed request"},
	[EDGE_ERR_FORBIDDEN] = {403, "forbidden", "not allowed"},
	[EDGE_ERR_NOT_FOUND] = {404, "not_found", "no such endpoint"},
	[EDGE_ERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed",
	"method not allowed on this endpoint"},
	[EDGE_ERR_PAYLOAD_TOO_LARGE] = {413, "payload_too_large",
	"request body too large"},
	[EDGE_ERR_TOO_MANY_REQUESTS] = {429, "rate_limited", "too many requests"},
	[EDGE_ERR_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type",
	"send application/json"},
	[EDGE_ERR_INTERNAL] = {500, "internal_error", "internal error"},
	[EDGE_ERR_NOT_IMPLEMENTED] = {501, "not_implemented",
	"not enabled on this server"},
	[EDGE_ERR_UNAVAILABLE] = {503, "unavailable",
	"service temporarily unavailable"},
};

typedef struct SqlstateKind
{
	const char *sqlstate;		/* five characters, or a class prefix */
	unsigned	status;
	const char *code;
	const char *message;		/* for server errors, instead of the database's */
} SqlstateKind;

/*
 * PostgreSQL errors of a called function, first match wins: exact codes,
 * then classes. Anything else is a 500: a function that breaks is the
 * server's fault, not the client's.
 */
static const SqlstateKind errors_sqlstates[] = {
	{"42883", 404, "not_found", NULL},	/* undefined function */
	{"42501", 403, "forbidden", NULL},	/* insufficient privilege */
	{"23505", 409, "conflict", NULL},	/* unique violation */
	{"23503", 409, "conflict", NULL},	/* foreign key violation */
	{"23P01", 409, "conflict", NULL},	/* exclusion violation */
	{"23502", 400, "bad_request", NULL},	/* not null violation */
	{"23514", 400, "bad_request", NULL},	/* check violation */
	{"P0001", 400, "bad_request", NULL},	/* RAISE EXCEPTION */
	{"25006", 405, "method_not_allowed", NULL},	/* a read-only call wrote */
	{"57014", 504, "timeout", "the call took longer than the server allows"},
	{"40001", 503, "unavailable", "the call conflicted with another: try again"},
	{"40P01", 503, "unavailable", "the call conflicted with another: try again"},
	{"55P03", 503, "unavailable", "a lock was not available: try again"},
	{"22", 400, "bad_request", NULL},	/* data exception: a value refused */
	{"28", 403, "forbidden", NULL},	/* invalid authorization */
	{"08", 503, "unavailable", "service temporarily unavailable"},
	{"53", 503, "unavailable", "service temporarily unavailable"},
	{"57P", 503, "unavailable", "service temporarily unavailable"},
};

static const SqlstateKind errors_sqlstate_default =
{"", 500, "internal_error", "internal error"};

static const SqlstateKind *
errors_sqlstate_kind(const char *sqlstate)
{
	size_t		i;

	for (i = 0; i < sizeof(errors_sqlstates) / sizeof(errors_sqlstates[0]); i++)
		if (strncmp(sqlstate, errors_sqlstates[i].sqlstate,
					strlen(errors_sqlstates[i].sqlstate)) == 0)
			return &errors_sqlstates[i];
	return &errors_sqlstate_default;
}

unsigned
errors_sqlstate_status(const char *sqlstate, const char **code)
{
	const SqlstateKind *kind = errors_sqlstate_kind(sqlstate);

	if (code != NULL)
		*code = kind->code;
	return kind->status;
}

/* text masked in the full style (every type), malloc'd; NULL: none or no memory. */
static char *
errors_mask(const char *text)
{
	pii_mask_config cfg;
	size_t		len;
	size_t		need;
	char	   *out;

	if (text == NULL)
		return NULL;
	len = strlen(text);
	need = pii_mask_len_max(len);
	if (need == SIZE_MAX || (out = malloc(need + 1)) == NULL)
		return NULL;
	pii_mask_config_init(&cfg, PII_STYLE_FULL);
	if (pii_mask(text, len, &cfg, out, need + 1, &len) != PII_OK)
	{
		free(out);
		return NULL;
	}
	return out;
}

bool
errors_respond_sqlstate(HttpRequest *req, const char *sqlstate,
						const char *message, const char *hint)
{
	const SqlstateKind *kind = errors_sqlstate_kind(sqlstate);
	char	   *shown = NULL;
	char	   *shown_hint = NULL;
	json_t	   *body;

	if (kind->status < 500)
	{
		shown = errors_mask(message);
		shown_hint = errors_mask(hint);
	}
	body = shown != NULL ?
		json_pack("{s:s, s:s, s:s}", "error", kind->code, "message", shown,
				  "sqlstate", sqlstate) : NULL;
	/* no message for this kind, or one that is not UTF-8: the kind's own */
	if (body == NULL)
		body = json_pack("{s:s, s:s, s:s}", "error", kind->code, "message",
						 kind->message != NULL ? kind->message : "the call failed",
						 "sqlstate", sqlstate);
	/* a hint that is not UTF-8 is left out, not the answer */
	if (body != NULL && shown_hint != NULL)
		json_object_set_new(body, "hint", json_string(shown_hint));
	free(shown);
	free(shown_hint);
	if (kind->status == 503 && !http_set_header(req, "Retry-After", "1"))
	{
		json_decref(body);
		return false;
	}
	return http_respond_json(req, kind->status, body);
}

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
	if (kind->status == 503 && !http_set_header(req, "Retry-After", "1"))
	{
		json_decref(body);
		return false;
	}
	return http_respond_json(req, kind->status, body);
}
