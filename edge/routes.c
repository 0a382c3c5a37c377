/*
 * routes.c
 *		The table of the edge's endpoints: path, allowed methods, how much
 *		body the handler takes, and the handler.
 *
 * An endpoint is one row here and a handler in the module of its concern.
 * Paths match exactly (no trailing-slash variants), so what the access log
 * names is exactly what was served; a row with a prefix instead takes
 * every path under it (one endpoint with a name in its path, such as
 * /v1/rpc/{function}) and is named by its pattern, never by the path, so
 * logs and metrics labels stay few.
 *
 * A row may name rate limits (ratelimit.h) that every request of the
 * route passes first, so a limit is seen where the endpoint is declared
 * rather than inside its handler.
 *
 * The table is constant; lookups need no locking.
 */
#include "routes.h"

#include <string.h>

#include "authz.h"
#include "health.h"
#include "jwks.h"
#include "metrics.h"
#include "oauth.h"
#include "ratelimit.h"
#include "rpc.h"

static const HttpRoute routes_table[] = {
	{"/healthz", HTTP_GET, 0, health_handle_live, NULL, 0},
	{"/readyz", HTTP_GET, 0, health_handle_ready, NULL, 0},
	{"/metrics", HTTP_GET, 0, metrics_handle, NULL, 0},
	{"/.well-known/jwks.json", HTTP_GET, 0, jwks_handle, NULL, 0},
	/* per client address; a password grant is limited harder inside */
	{"/v1/auth/token", HTTP_POST, 16 * 1024, oauth_handle_token, NULL, RATELIMIT_CLIENT},
	{"/v1/auth/revoke", HTTP_POST, 16 * 1024, oauth_handle_revoke, NULL, RATELIMIT_CLIENT},
	{"/v1/auth/introspect", HTTP_POST, 16 * 1024, oauth_handle_introspect, NULL, RATELIMIT_CLIENT},
	{"/v1/auth/mfa/enroll", HTTP_POST, 1024, oauth_handle_mfa_enroll, NULL, RATELIMIT_CLIENT},
	{"/v1/auth/mfa/confirm", HTTP_POST, 1024, oauth_handle_mfa_confirm, NULL, RATELIMIT_CLIENT},
	/* forward auth: whatever method the proxy uses, no body taken */
	{"/v1/authz", HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE |
	HTTP_PATCH | HTTP_OPTIONS, 0, authz_handle, NULL, 0},
	/* every function of the API schema; GET for those that cannot write */
	{"/v1/rpc/{function}", HTTP_GET | HTTP_POST, RPC_MAX_BODY, rpc_handle, RPC_PREFIX, 0},
};

/* The whole table, for /metrics to name every route. */
const HttpRoute *
routes_all(size_t *n)
{
	*n = sizeof(routes_table) / sizeof(routes_table[0]);
	return routes_table;
}

bool
routes_enter(HttpRequest *req)
{
	const HttpRoute *r = http_request_route(req);

	return r->limits != 0 ? ratelimit_check(req, r->limits, NULL, r->handler) :
		r->handler(req);
}

/* A linear scan: the table is short, and lookups cost a few strcmp. */
const HttpRoute *
routes_find(const char *path)
{
	const HttpRoute *r;
	size_t		i;

	for (i = 0; i < sizeof(routes_table) / sizeof(routes_table[0]); i++)
	{
		r = &routes_table[i];
		if (r->prefix != NULL ?
			strncmp(path, r->prefix, strlen(r->prefix)) == 0 :
			strcmp(r->path, path) == 0)
			return r;
	}
	return NULL;
}
