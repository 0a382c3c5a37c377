/*
 * authz.c
 *		/v1/authz: forward authorization for other proxies (nginx
 *		auth_request, Traefik ForwardAuth, Envoy ext_authz over HTTP).
 *
 * The proxy sends the client's credentials (Authorization: Bearer <access
 * token>, X-API-Key: <API key>, or the cookie WARDEN_TOKEN_COOKIE names)
 * and the original method and URI
 * (X-Forwarded-Method / X-Forwarded-Uri, or X-Original-Method /
 * X-Original-URI). warden.authorize() verifies the credential, matches the
 * route table (warden.add_route) and decides with warden.check(). The
 * answer: 200 with X-Warden-Subject, X-Warden-Tenant and X-Warden-Roles for
 * the proxy to pass on; 401 with WWW-Authenticate (RFC 6750); 403.
 *
 * This first version asks the database for every request with a token of
 * the right shape (one statement through the pool; a malformed token is
 * refused before); tokens verified in the edge and decisions cached in
 * Redis come next.
 */
#include "authz.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cookie.h"
#include "dbcall.h"
#include "errors.h"
#include "jwt.h"
#include "log.h"

#define AUTHZ_SQL "SELECT warden.authorize($1, $2, $3, $4)"

/* A token in a cookie: JWT_MAX_LEN is 16 KiB, a cookie rarely 4 KiB. */
#define AUTHZ_COOKIE_MAX 8192

static int	authz_timeout_ms = 3000;
static const char *authz_cookie = "";

void
authz_configure(int db_timeout_ms, const char *token_cookie)
{
	authz_timeout_ms = db_timeout_ms;
	authz_cookie = token_cookie;
}

static const char *
authz_header(HttpRequest *req, const char *a, const char *b)
{
	const char *v = http_request_header(req, a);

	return v != NULL ? v : http_request_header(req, b);
}

static bool
authz_unauthorized(HttpRequest *req, bool invalid)
{
	if (!http_add_header(req, "WWW-Authenticate", invalid ?
						 "Bearer realm=\"warden\", error=\"invalid_token\"" :
						 "Bearer realm=\"warden\""))
		return false;
	return http_respond_json(req, 401,
							 json_pack("{s:s, s:s}", "error", invalid ? "invalid_token" : "unauthorized",
									   "message", invalid ? "the credential is not valid" :
									   "a bearer token or an API key is required"));
}

static bool
authz_complete(HttpRequest *req)
{
	const DbCallResult *r = dbcall_result(req);
	json_t	   *answer;
	json_int_t	status;
	bool		ok;

	if (r->unavailable)
		return errors_respond(req, EDGE_ERR_UNAVAILABLE, NULL);
	if (r->sqlstate[0] != '\0' || r->value == NULL ||
		(answer = json_loads(r->value, 0, NULL)) == NULL)
	{
		log_write(LOG_LEVEL_ERROR, "authorization failed in the database", "{s:s, s:s}",
				  "sqlstate", r->sqlstate, "request_id", http_request_id(req));
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}
	status = json_integer_value(json_object_get(answer, "status"));
	if (status == 200)
	{
		json_t	   *roles = json_object_get(answer, "roles");
		char		list[1024] = "";
		size_t		used = 0;
		size_t		i;
		json_t	   *role;
		const char *tenant = json_string_value(json_object_get(answer, "tenant"));

		json_array_foreach(roles, i, role)
		{
			if (json_is_string(role) && used < sizeof(list))
				used += snprintf(list + used, sizeof(list) - used, "%s%s",
								 used > 0 ? "," : "", json_string_value(role));
		}
		ok = http_add_header(req, "X-Warden-Subject",
							 json_string_value(json_object_get(answer, "subject"))) &&
			(tenant == NULL || http_add_header(req, "X-Warden-Tenant", tenant)) &&
			http_add_header(req, "X-Warden-Roles", list) &&
			http_respond_json(req, 200,
							  json_pack("{s:b, s:O}", "allowed", 1, "subject",
										json_object_get(answer, "subject")));
	}
	else if (status == 401)
		ok = authz_unauthorized(req, true);
	else
		ok = http_respond_json(req, 403,
							   json_pack("{s:s, s:s}", "error", "forbidden",
										 "message", "not allowed"));
	json_decref(answer);
	return ok;
}

/*
 * Structure only (three base64url segments of JSON, RS256, no crit, not
 * too large), checked before the database is asked: what fails here would
 * fail there, so garbage costs no statement. The signature and the claims
 * are the database's to judge.
 */
static bool
authz_well_formed(const char *token)
{
	jwt_token	t;
	bool		ok = jwt_parse(token, strlen(token), 0, &t) == JWT_OK;

	jwt_token_free(&t);
	return ok;
}

bool
authz_handle(HttpRequest *req)
{
	const char *auth = http_request_header(req, "Authorization");
	const char *key = http_request_header(req, "X-API-Key");
	const char *method = authz_header(req, "X-Forwarded-Method", "X-Original-Method");
	const char *uri = authz_header(req, "X-Forwarded-Uri", "X-Original-URI");
	const char *cookies = http_request_header(req, "Cookie");
	const char *params[4];
	char		cookie[AUTHZ_COOKIE_MAX];

	if (uri == NULL)
		return errors_respond(req, EDGE_ERR_BAD_REQUEST,
							  "X-Forwarded-Uri or X-Original-URI is required");
	if (method == NULL)
		method = http_request_method_name(req);
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
	{
		params[0] = auth + 7;
		while (*params[0] == ' ')
			params[0]++;
		params[3] = "false";
		if (!authz_well_formed(params[0]))
			return authz_unauthorized(req, true);
	}
	else if (key != NULL)
	{
		params[0] = key;
		params[3] = "true";
	}
	else if (authz_cookie[0] != '\0' && cookies != NULL &&
			 cookie_get(cookies, authz_cookie, cookie, sizeof(cookie)))
	{
		params[0] = cookie;		/* dbcall_submit copies it */
		params[3] = "false";
	}
	else
		return authz_unauthorized(req, false);
	params[1] = method;
	params[2] = uri;
	return dbcall_submit(req, AUTHZ_SQL, 4, params, authz_timeout_ms, authz_complete, 0);
}
