/*
 * authz.c
 *		/v1/authz: forward authorization for other proxies (nginx
 *		auth_request, Traefik ForwardAuth, Envoy ext_authz over HTTP).
 *
 * The proxy sends the client's credentials (Authorization: Bearer <access
 * token>, X-API-Key: <API key>, or the cookie WARDEN_TOKEN_COOKIE names;
 * see credential.h) and the original method and URI
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

#include "credential.h"
#include "dbcall.h"
#include "errors.h"
#include "log.h"

#define AUTHZ_SQL "SELECT warden.authorize($1, $2, $3, $4)"

static int	authz_timeout_ms = 3000;

void
authz_configure(int db_timeout_ms)
{
	authz_timeout_ms = db_timeout_ms;
}

static const char *
authz_header(HttpRequest *req, const char *a, const char *b)
{
	const char *v = http_request_header(req, a);

	return v != NULL ? v : http_request_header(req, b);
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
		ok = credential_unauthorized(req, true);
	else
		ok = http_respond_json(req, 403,
							   json_pack("{s:s, s:s}", "error", "forbidden",
										 "message", "not allowed"));
	json_decref(answer);
	return ok;
}

bool
authz_handle(HttpRequest *req)
{
	const char *method = authz_header(req, "X-Forwarded-Method", "X-Original-Method");
	const char *uri = authz_header(req, "X-Forwarded-Uri", "X-Original-URI");
	const char *params[4];
	Credential	cred;
	bool		ok;

	if (uri == NULL)
		return errors_respond(req, EDGE_ERR_BAD_REQUEST,
							  "X-Forwarded-Uri or X-Original-URI is required");
	if (method == NULL)
		method = http_request_method_name(req);
	switch (credential_read(req, &cred))
	{
		case CREDENTIAL_NONE:
			return credential_unauthorized(req, false);
		case CREDENTIAL_MALFORMED:
			credential_wipe(&cred);
			return credential_unauthorized(req, true);
		case CREDENTIAL_TOKEN:
		case CREDENTIAL_API_KEY:
			break;
	}
	params[0] = cred.value;		/* dbcall_submit copies it */
	params[1] = method;
	params[2] = uri;
	params[3] = cred.kind == CREDENTIAL_API_KEY ? "true" : "false";
	ok = dbcall_submit(req, AUTHZ_SQL, 4, params, authz_timeout_ms, authz_complete, 0);
	credential_wipe(&cred);
	return ok;
}
