/*
 * authz.c
 *		/v1/authz: forward authorization for other proxies (nginx
 *		auth_request, Traefik ForwardAuth, Envoy ext_authz over HTTP).
 *
 * The proxy sends the client's credentials (identity.h: a bearer token, an
 * API key, or the token cookie) and the original method and URI
 * (X-Forwarded-Method / X-Forwarded-Uri, or X-Original-Method /
 * X-Original-URI). The answer: 200 with X-Warden-Subject, X-Warden-Tenant
 * and X-Warden-Roles for the proxy to pass on; 401 with WWW-Authenticate
 * (RFC 6750); 403.
 *
 * On every request of the proxied API, so the common case touches nothing
 * outside the process: the token is verified here (verifier.c) and the
 * decision comes from the decision cache (decisions.c). A decision not yet
 * made under the current policy version is looked up in Redis, shared by
 * the edges (shared.c), and only then asked of the database
 * (warden.decide(), one statement through the pool), and kept in both. A
 * cached one is served while PostgreSQL is down.
 */
#include "authz.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "credential.h"
#include "dbcall.h"
#include "decisions.h"
#include "errors.h"
#include "identity.h"
#include "log.h"
#include "timeutil.h"

#define AUTHZ_DECIDE_SQL "SELECT warden.decide($1, $2, $3, $4::text[])::text"

/* What a request carries from one step to the next. */
typedef struct AuthzContext
{
	Identity	who;
	IdentityLookup lookup;
	DecisionLookup decision;
} AuthzContext;

static int	authz_timeout_ms = 3000;

static void
authz_context_free(void *data)
{
	AuthzContext *ctx = data;

	decisions_release(&ctx->decision);
	free(ctx);
}

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

static const char *
authz_method(HttpRequest *req)
{
	const char *method = authz_header(req, "X-Forwarded-Method", "X-Original-Method");

	return method != NULL ? method : http_request_method_name(req);
}

static bool
authz_answer(HttpRequest *req, const Identity *who, const Decision *d)
{
	if (d->status != 200)
		return http_respond_json(req, 403,
								 json_pack("{s:s, s:s}", "error", "forbidden",
										   "message", "not allowed"));
	return http_add_header(req, "X-Warden-Subject", who->subject) &&
		(who->tenant[0] == '\0' || http_add_header(req, "X-Warden-Tenant", who->tenant)) &&
		http_add_header(req, "X-Warden-Roles", d->roles) &&
		http_respond_json(req, 200,
						  json_pack("{s:b, s:s}", "allowed", 1, "subject", who->subject));
}

/* warden.decide()'s answer: the status, and the roles as one header value. */
static bool
authz_parse_decision(const char *text, Decision *d)
{
	json_t	   *answer = json_loads(text, 0, NULL);
	json_t	   *role;
	size_t		used = 0;
	size_t		i;

	if (answer == NULL)
		return false;
	d->status = (int) json_integer_value(json_object_get(answer, "status"));
	d->roles[0] = '\0';
	json_array_foreach(json_object_get(answer, "roles"), i, role)
	{
		int			n;

		if (!json_is_string(role))
			continue;
		n = snprintf(d->roles + used, sizeof(d->roles) - used, "%s%s",
					 used > 0 ? "," : "", json_string_value(role));
		if (n < 0 || (size_t) n >= sizeof(d->roles) - used)
		{
			d->roles[used] = '\0';		/* whole names only */
			break;
		}
		used += (size_t) n;
	}
	json_decref(answer);
	return d->status == 200 || d->status == 403;
}

static bool
authz_decided(HttpRequest *req)
{
	AuthzContext *ctx = http_data(req);
	const DbCallResult *r = dbcall_result(req);
	Decision	d;

	if (r->unavailable)
		return errors_respond(req, EDGE_ERR_UNAVAILABLE, NULL);
	if (r->sqlstate[0] != '\0' || r->value == NULL || !authz_parse_decision(r->value, &d))
	{
		log_write(LOG_LEVEL_ERROR, "authorization failed in the database", "{s:s, s:s}",
				  "sqlstate", r->sqlstate, "request_id", http_request_id(req));
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}
	decisions_store(&ctx->decision, &d);
	return authz_answer(req, &ctx->who, &d);
}

static bool
authz_ask_database(HttpRequest *req, AuthzContext *ctx)
{
	const char *params[4];
	char		scopes[IDENTITY_SCOPE_MAX * 2 + 8];

	if (!identity_scopes_literal(&ctx->who, scopes, sizeof(scopes), &params[3]))
		return credential_unauthorized(req, true);
	params[0] = ctx->who.subject;
	params[1] = authz_method(req);
	params[2] = authz_header(req, "X-Forwarded-Uri", "X-Original-URI");
	return dbcall_submit(req, AUTHZ_DECIDE_SQL, 4, params, authz_timeout_ms,
						 authz_decided, 0);
}

/* After Redis was asked: its decision, or the database's. */
static bool
authz_shared_checked(HttpRequest *req)
{
	AuthzContext *ctx = http_data(req);
	Decision	d;

	if (decisions_redis_result(req, &ctx->decision, &d) == DECISION_FOUND)
		return authz_answer(req, &ctx->who, &d);
	return authz_ask_database(req, ctx);
}

/* The caller is known: the decision from the cache, Redis, or the database. */
static bool
authz_decide(HttpRequest *req, AuthzContext *ctx)
{
	const char *uri = authz_header(req, "X-Forwarded-Uri", "X-Original-URI");
	const char *method = authz_method(req);
	int64_t		started = timeutil_mono_us();
	DecisionStep step;
	Decision	d;

	http_set_principal(req, ctx->who.subject);
	step = decisions_lookup(req, &ctx->decision, &ctx->who, method, uri, &d,
							authz_shared_checked);
	http_add_timing(req, "cache", (double) (timeutil_mono_us() - started) / 1000.0);
	switch (step)
	{
		case DECISION_FOUND:
			return authz_answer(req, &ctx->who, &d);
		case DECISION_PENDING:
			return true;
		case DECISION_ASK:
			return authz_ask_database(req, ctx);
		case DECISION_NO_MEMORY:
			return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
		case DECISION_TOO_LONG:
			break;
	}
	return errors_respond(req, EDGE_ERR_BAD_REQUEST, "the method or URI is too long");
}

static bool
authz_identified(HttpRequest *req, AuthzContext *ctx, IdentityStatus st)
{
	switch (st)
	{
		case IDENTITY_OK:
			return authz_decide(req, ctx);
		case IDENTITY_NONE:
			return credential_unauthorized(req, false);
		case IDENTITY_INVALID:
			return credential_unauthorized(req, true);
		case IDENTITY_UNAVAILABLE:
		case IDENTITY_PENDING:
			break;
	}
	return errors_respond(req, EDGE_ERR_UNAVAILABLE, NULL);
}

/* After an API key was looked up in the database. */
static bool
authz_key_checked(HttpRequest *req)
{
	AuthzContext *ctx = http_data(req);

	IdentityStatus st = identity_result(req, &ctx->lookup, &ctx->who, authz_key_checked);

	return st == IDENTITY_PENDING ? true : authz_identified(req, ctx, st);
}

bool
authz_handle(HttpRequest *req)
{
	AuthzContext *ctx;
	IdentityStatus st;
	Credential	cred;
	int64_t		started;

	if (authz_header(req, "X-Forwarded-Uri", "X-Original-URI") == NULL)
		return errors_respond(req, EDGE_ERR_BAD_REQUEST,
							  "X-Forwarded-Uri or X-Original-URI is required");
	ctx = malloc(sizeof(AuthzContext));
	if (ctx == NULL)
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	ctx->decision.key = NULL;
	http_set_data(req, ctx, authz_context_free);
	started = timeutil_mono_us();
	(void) credential_read(req, &cred);
	st = identity_resolve(req, &cred, &ctx->lookup, &ctx->who, authz_key_checked);
	credential_wipe(&cred);
	if (st != IDENTITY_PENDING)
		http_add_timing(req, "verify", (double) (timeutil_mono_us() - started) / 1000.0);
	return st == IDENTITY_PENDING ? true : authz_identified(req, ctx, st);
}
