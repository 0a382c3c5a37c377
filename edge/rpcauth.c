/*
 * rpcauth.c
 *		Step one of /v1/rpc: the caller from identity.c, the decision from
 *		the caches or warden.check() (see rpcauth.h).
 *
 * Decisions of rpc:execute share the decision cache with forward
 * authorization, under the "method" rpc:execute and the "path"
 * function:<name>: no route path lacks its leading slash, so the two kinds
 * of key never meet. They follow the policy version like any decision.
 */
#include "rpcauth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "dbcall.h"
#include "log.h"
#include "textfmt.h"

#define RPCAUTH_CHECK_SQL \
	"SELECT CASE WHEN warden.check($1, 'rpc:execute', 'function:' || $2, $3::pg_catalog.text[])" \
	" THEN 200 ELSE 403 END"

enum
{
	RPCAUTH_STEP_NONE,
	RPCAUTH_STEP_IDENTITY,		/* identity.c waits on Redis or the database */
	RPCAUTH_STEP_REDIS,			/* the decision asked of Redis */
	RPCAUTH_STEP_DATABASE		/* the decision asked of warden.check() */
};

static RpcAuthStatus
rpcauth_decision(const Decision *d)
{
	return d->status == 200 ? RPCAUTH_ALLOWED : RPCAUTH_FORBIDDEN;
}

static RpcAuthStatus
rpcauth_ask_database(HttpRequest *req, RpcAuth *a)
{
	const char *params[3];
	char		scopes[IDENTITY_SCOPE_MAX * 2 + 8];
	PgStatement s;

	if (!identity_scopes_literal(&a->who, scopes, sizeof(scopes), &params[2]))
		return RPCAUTH_INVALID;
	params[0] = a->who.subject;
	params[1] = a->function;
	s = (PgStatement) {RPCAUTH_CHECK_SQL, 3, NULL, params};
	a->step = RPCAUTH_STEP_DATABASE;
	return dbcall_submit_batch(req, &s, 1, a->deadline_ms, a->complete, 0) ?
		RPCAUTH_PENDING : RPCAUTH_ERROR;
}

/* The caller is known: the decision from the caches, or asked for. */
static RpcAuthStatus
rpcauth_decide(HttpRequest *req, RpcAuth *a)
{
	char		resource[sizeof(a->function) + 16];
	Decision	d;

	http_set_principal(req, a->who.subject);
	memcpy(resource, "function:", 9);
	textfmt_copy(resource + 9, sizeof(resource) - 9, a->function);
	switch (decisions_lookup(req, &a->decision, &a->who, "rpc:execute", resource, &d,
							 a->complete))
	{
		case DECISION_FOUND:
			return rpcauth_decision(&d);
		case DECISION_PENDING:
			a->step = RPCAUTH_STEP_REDIS;
			return RPCAUTH_PENDING;
		case DECISION_ASK:
			return rpcauth_ask_database(req, a);
		case DECISION_TOO_LONG:
		case DECISION_NO_MEMORY:
			break;
	}
	return RPCAUTH_ERROR;
}

static RpcAuthStatus
rpcauth_identified(HttpRequest *req, RpcAuth *a, IdentityStatus st)
{
	switch (st)
	{
		case IDENTITY_OK:
			return rpcauth_decide(req, a);
		case IDENTITY_NONE:
			return RPCAUTH_NONE;
		case IDENTITY_INVALID:
			return RPCAUTH_INVALID;
		case IDENTITY_UNAVAILABLE:
			return RPCAUTH_UNAVAILABLE;
		case IDENTITY_PENDING:
			a->step = RPCAUTH_STEP_IDENTITY;
			return RPCAUTH_PENDING;
	}
	return RPCAUTH_ERROR;
}

/* The payload of a token verification has just passed (malloc'd), or NULL. */
static char *
rpcauth_token_payload(const char *token)
{
	const char *p1 = strchr(token, '.');
	const char *p2 = p1 != NULL ? strchr(p1 + 1, '.') : NULL;
	size_t		max;
	size_t		len;
	char	   *out;

	if (p2 == NULL)
		return NULL;
	max = b64url_decoded_max((size_t) (p2 - p1 - 1));
	if ((out = malloc(max + 1)) == NULL)
		return NULL;
	if (b64url_decode(p1 + 1, (size_t) (p2 - p1 - 1), (unsigned char *) out, max, &len) != B64URL_OK)
	{
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

RpcAuthStatus
rpcauth_start(HttpRequest *req, RpcAuth *a, const Credential *cred,
			  const char *function, int64_t deadline_ms, HttpHandler complete)
{
	IdentityStatus st;

	a->step = RPCAUTH_STEP_NONE;
	a->complete = complete;
	a->deadline_ms = deadline_ms;
	if (strlen(function) >= sizeof(a->function))
		return RPCAUTH_ERROR;
	strcpy(a->function, function);
	st = identity_resolve(req, cred, &a->lookup, &a->who, complete);
	/* the claims of a token go on into the call: its payload, as signed */
	if (st == IDENTITY_OK && cred->kind == CREDENTIAL_TOKEN &&
		(a->payload = rpcauth_token_payload(cred->value)) == NULL)
		return RPCAUTH_ERROR;
	return rpcauth_identified(req, a, st);
}

RpcAuthStatus
rpcauth_next(HttpRequest *req, RpcAuth *a)
{
	const DbCallResult *r;
	Decision	d;

	switch (a->step)
	{
		case RPCAUTH_STEP_IDENTITY:
			return rpcauth_identified(req, a,
									  identity_result(req, &a->lookup, &a->who, a->complete));
		case RPCAUTH_STEP_REDIS:
			if (decisions_redis_result(req, &a->decision, &d) == DECISION_FOUND)
				return rpcauth_decision(&d);
			return rpcauth_ask_database(req, a);
		case RPCAUTH_STEP_DATABASE:
			break;
		default:
			return RPCAUTH_ERROR;
	}
	r = dbcall_result(req);
	if (r->unavailable)
		return RPCAUTH_UNAVAILABLE;
	if (r->sqlstate[0] != '\0' || r->value == NULL)
	{
		log_write(LOG_LEVEL_ERROR, "rpc authorization failed in the database",
				  "{s:s, s:s}", "sqlstate", r->sqlstate, "request_id", http_request_id(req));
		return RPCAUTH_ERROR;
	}
	d.status = atoi(r->value);
	d.roles[0] = '\0';
	decisions_store(&a->decision, &d);
	return rpcauth_decision(&d);
}

void
rpcauth_release(RpcAuth *a)
{
	decisions_release(&a->decision);
	if (a->payload != NULL)
	{
		explicit_bzero(a->payload, strlen(a->payload));
		free(a->payload);
		a->payload = NULL;
	}
}

char *
rpcauth_claims(RpcAuth *a)
{
	json_t	   *claims;
	json_t	   *scopes;
	char	   *text;
	const char *p;

	if (!a->who.api_key)
	{
		text = a->payload;		/* the caller's now */
		a->payload = NULL;
		return text;
	}
	scopes = json_array();
	for (p = a->who.scope; a->who.has_scope && *p != '\0';)
	{
		size_t		n = strcspn(p, " ");

		if (n > 0)
			json_array_append_new(scopes, json_stringn(p, n));
		p += n;
		p += strspn(p, " ");
	}
	claims = json_pack("{s:s, s:s, s:s*, s:s*, s:o}", "sub", a->who.subject,
					   "service_account", a->who.subject,
					   "tenant", a->who.tenant[0] != '\0' ? a->who.tenant : NULL,
					   "scope", a->who.has_scope ? a->who.scope : NULL, "scopes", scopes);
	text = claims != NULL ? json_dumps(claims, JSON_COMPACT) : NULL;
	json_decref(claims);
	return text;
}
