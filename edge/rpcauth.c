/*
 * rpcauth.c
 *		Step one of /v1/rpc in one statement: the credential verified and
 *		the decision taken by the database (see rpcauth.h).
 *
 * The claims that go on into warden.claims are what verification returned:
 * a token's claims as they are; for an API key, its record with "sub" (the
 * service account) and "scope" (its scopes, space-separated, as in an
 * access token), so that warden.check() called inside the function
 * narrows by the key's scopes exactly as it does for the key's tokens.
 */
#include "rpcauth.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dbcall.h"
#include "log.h"

/* $1 the credential, $2 true for an API key, $3 the function's name */
#define RPCAUTH_SQL \
	"SELECT pg_catalog.json_build_object('subject', s.subject, 'claims', s.claims," \
	" 'allowed', warden.check(s.subject, 'rpc:execute', 'function:' || $3, s.scopes))" \
	" FROM (SELECT CASE WHEN $2 THEN v.claims" \
	"   || pg_catalog.jsonb_build_object('sub', v.claims->>'service_account'," \
	"        'scope', pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v.claims->'scopes')), ' '))" \
	"   ELSE v.claims END AS claims," \
	"  CASE WHEN $2 THEN v.claims->>'service_account' ELSE v.claims->>'sub' END AS subject," \
	"  CASE WHEN $2 THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v.claims->'scopes'))" \
	"   WHEN v.claims ? 'scope' THEN pg_catalog.string_to_array(v.claims->>'scope', ' ') END AS scopes" \
	"  FROM (SELECT CASE WHEN $2::pg_catalog.bool THEN warden.verify_api_key($1)" \
	"   ELSE warden.verify($1) END AS claims) v) s"

bool
rpcauth_submit(HttpRequest *req, const Credential *cred, const char *function,
			   int64_t deadline_ms, HttpHandler complete)
{
	PgStatement s;
	const char *params[3];

	switch (cred->kind)
	{
		case CREDENTIAL_NONE:
			return credential_unauthorized(req, false);
		case CREDENTIAL_MALFORMED:
			return credential_unauthorized(req, true);
		case CREDENTIAL_TOKEN:
		case CREDENTIAL_API_KEY:
			break;
	}
	params[0] = cred->value;	/* copied, and wiped when the request ends */
	params[1] = cred->kind == CREDENTIAL_API_KEY ? "true" : "false";
	params[2] = function;
	s = (PgStatement) {RPCAUTH_SQL, 3, NULL, params};
	return dbcall_submit_batch(req, &s, 1, deadline_ms, complete, 0);
}

RpcAuthStatus
rpcauth_result(HttpRequest *req, RpcIdentity *who)
{
	const DbCallResult *r = dbcall_result(req);
	json_t	   *answer;
	const char *subject;
	json_t	   *claims;
	RpcAuthStatus status;

	who->subject = NULL;
	who->claims = NULL;
	if (r->unavailable)
		return RPCAUTH_UNAVAILABLE;
	/* warden's token and key errors (WTxxx): the credential does not verify */
	if (strncmp(r->sqlstate, "WT", 2) == 0)
		return RPCAUTH_INVALID;
	if (r->sqlstate[0] != '\0' || r->value == NULL ||
		(answer = json_loads(r->value, 0, NULL)) == NULL)
	{
		log_write(LOG_LEVEL_ERROR, "rpc authorization failed in the database",
				  "{s:s, s:s}", "sqlstate", r->sqlstate,
				  "request_id", http_request_id(req));
		return RPCAUTH_ERROR;
	}
	subject = json_string_value(json_object_get(answer, "subject"));
	claims = json_object_get(answer, "claims");
	if (subject == NULL || !json_is_object(claims))
		status = RPCAUTH_INVALID;	/* verified, yet names no one */
	else if (!json_is_true(json_object_get(answer, "allowed")))
		status = RPCAUTH_FORBIDDEN;
	else
	{
		who->subject = strdup(subject);
		who->claims = json_dumps(claims, JSON_COMPACT);
		status = who->subject != NULL && who->claims != NULL ?
			RPCAUTH_ALLOWED : RPCAUTH_ERROR;
		if (status != RPCAUTH_ALLOWED)
			rpcauth_identity_free(who);
	}
	json_decref(answer);
	return status;
}

void
rpcauth_identity_free(RpcIdentity *who)
{
	free(who->subject);
	free(who->claims);
	who->subject = NULL;
	who->claims = NULL;
}
