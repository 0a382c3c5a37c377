/*
 * credential.h
 *		The caller's credential, read the same way by every endpoint that
 *		needs one (/v1/authz, /v1/rpc), and the RFC 6750 answer when it is
 *		missing or does not verify.
 *
 * In order of precedence: Authorization: Bearer <access token>, then
 * X-API-Key: <API key> (a service account), then the cookie named by
 * WARDEN_TOKEN_COOKIE (an access token; a cookie given twice counts as
 * none). An access token's structure (core/jwt) is checked here, so a
 * malformed one costs no database statement. Thread-safe after
 * credential_configure(), which runs before the daemon starts.
 */
#ifndef EDGE_CREDENTIAL_H
#define EDGE_CREDENTIAL_H

#include <stdbool.h>

#include "http.h"

/* A token in a cookie: JWT_MAX_LEN is 16 KiB, a cookie rarely 4 KiB. */
#define CREDENTIAL_COOKIE_MAX 8192

typedef enum CredentialKind
{
	CREDENTIAL_NONE,			/* nothing presented */
	CREDENTIAL_MALFORMED,		/* an access token that cannot be one */
	CREDENTIAL_TOKEN,			/* an access token (header or cookie) */
	CREDENTIAL_API_KEY			/* an API key */
} CredentialKind;

typedef struct Credential
{
	CredentialKind kind;
	const char *value;			/* into the request's headers, or cookie */
	char		cookie[CREDENTIAL_COOKIE_MAX];
} Credential;

extern void credential_configure(const char *token_cookie);

/* Fills cred from the request's headers; returns its kind. */
extern CredentialKind credential_read(HttpRequest *req, Credential *cred);

/* Wipes the cookie copy (a credential) once it is no longer needed. */
extern void credential_wipe(Credential *cred);

/*
 * 401 with WWW-Authenticate: Bearer realm="warden", and error="invalid_token"
 * when invalid (a credential was presented and does not verify).
 */
extern bool credential_unauthorized(HttpRequest *req, bool invalid);

#endif							/* EDGE_CREDENTIAL_H */
