/*
 * rpcauth.h
 *		Step one of /v1/rpc: who is calling, and may they call this function
 *		(rpc:execute on function:<name>, granted like any permission).
 *
 * The caller is established as for /v1/authz (identity.c: tokens verified
 * in the edge, API keys cached), and the decision comes from the same
 * caches (decisions.c in process, shared.c in Redis) before the database is
 * asked (warden.check()), so a call whose caller was seen before costs no
 * round trip here: the function's own is the only one.
 *
 * The caller keeps an RpcAuth in its request state. rpcauth_start answers
 * RPCAUTH_PENDING when it had to wait (Redis, the database); complete then
 * runs on the request's thread and calls rpcauth_next, which may answer
 * RPCAUTH_PENDING again (and complete runs once more).
 */
#ifndef EDGE_RPCAUTH_H
#define EDGE_RPCAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "decisions.h"
#include "http.h"
#include "identity.h"

typedef enum RpcAuthStatus
{
	RPCAUTH_ALLOWED,
	RPCAUTH_FORBIDDEN,			/* verified, but no rpc:execute on it */
	RPCAUTH_NONE,				/* no credential at all */
	RPCAUTH_INVALID,			/* the credential does not verify */
	RPCAUTH_UNAVAILABLE,		/* the database could not answer in time */
	RPCAUTH_ERROR,				/* anything else (logged) */
	RPCAUTH_PENDING				/* waiting: complete will run */
} RpcAuthStatus;

typedef struct RpcAuth
{
	int			step;			/* what the request waits on */
	HttpHandler complete;
	int64_t		deadline_ms;
	IdentityLookup lookup;
	Identity	who;
	DecisionLookup decision;
	char		function[64];
	char	   *payload;		/* a token's payload, for warden.claims */
} RpcAuth;

/* cred: what credential_read() found in the request. */
extern RpcAuthStatus rpcauth_start(HttpRequest *req, RpcAuth *a,
								   const Credential *cred, const char *function,
								   int64_t deadline_ms, HttpHandler complete);
extern RpcAuthStatus rpcauth_next(HttpRequest *req, RpcAuth *a);

/*
 * After RPCAUTH_ALLOWED, once: the verified claims as JSON for
 * warden.claims (malloc'd, the caller's; NULL when out of memory): an
 * access token's payload as signed, or for an API key {"sub", "service_account", "tenant", "scope",
 * "scopes"}, so that warden.check() inside the function narrows by the
 * key's scopes as it does for the key's tokens.
 */
extern char *rpcauth_claims(RpcAuth *a);

/* Wipes and frees what a keeps (with the request). */
extern void rpcauth_release(RpcAuth *a);

#endif							/* EDGE_RPCAUTH_H */
