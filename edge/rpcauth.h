/*
 * rpcauth.h
 *		Step one of /v1/rpc: who is calling, and may they call this function
 *		(rpc:execute on function:<name>, granted like any permission).
 *
 * This is the whole interface, so the way the answer is found can change
 * behind it: today one statement on the pool verifies the credential
 * (warden.verify, warden.verify_api_key) and decides (warden.check, with an
 * API key's scopes); tokens verified in the edge and cached decisions will
 * answer without the database, and then call complete at once instead of
 * after a round trip.
 *
 * rpcauth_submit answers 401 (no credential, or one that does not verify,
 * with RFC 6750's WWW-Authenticate) itself; otherwise complete runs on the
 * request's thread and reads the decision with rpcauth_result.
 */
#ifndef EDGE_RPCAUTH_H
#define EDGE_RPCAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "credential.h"
#include "http.h"

typedef enum RpcAuthStatus
{
	RPCAUTH_ALLOWED,
	RPCAUTH_FORBIDDEN,			/* verified, but no rpc:execute on it */
	RPCAUTH_INVALID,			/* the credential does not verify */
	RPCAUTH_UNAVAILABLE,		/* the database could not answer in time */
	RPCAUTH_ERROR				/* anything else (logged) */
} RpcAuthStatus;

typedef struct RpcIdentity
{
	char	   *subject;		/* the principal (warden.principal) */
	char	   *claims;			/* its verified claims, JSON (warden.claims) */
} RpcIdentity;

/*
 * Decides whether the caller may run function, within deadline_ms
 * (timeutil_mono_ms()). False only when nothing could be answered or set
 * up (the connection then closes).
 */
extern bool rpcauth_submit(HttpRequest *req, const Credential *cred,
						   const char *function, int64_t deadline_ms,
						   HttpHandler complete);

/*
 * The decision, in complete. On RPCAUTH_ALLOWED, who holds copies the
 * caller frees with rpcauth_identity_free.
 */
extern RpcAuthStatus rpcauth_result(HttpRequest *req, RpcIdentity *who);

extern void rpcauth_identity_free(RpcIdentity *who);

#endif							/* EDGE_RPCAUTH_H */
