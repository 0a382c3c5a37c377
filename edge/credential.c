/*
 * credential.c
 *		The caller's credential and the RFC 6750 answer (see credential.h).
 */
#include "credential.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "cookie.h"
#include "jwt.h"

static const char *credential_cookie = "";

void
credential_configure(const char *token_cookie)
{
	credential_cookie = token_cookie;
}

/*
 * The shape of a compact JWS, and nothing more: three non-empty segments
 * of base64url characters, at most JWT_MAX_LEN long. It is read on every
 * request, so it decodes and parses nothing: a token of this shape that
 * is not a valid one fails verification (verifier.c) just as fast, and a
 * known one is found by its digest without being parsed at all.
 */
static bool
credential_well_formed(const char *token)
{
	size_t		i = 0;

	if (strnlen(token, JWT_MAX_LEN + 1) > JWT_MAX_LEN)
		return false;
	/* three segments, two ending in a dot, the last at the end */
	for (int seg = 0; seg < 3; seg++)
	{
		size_t		n = b64url_span(token + i);

		if (n == 0 || token[i + n] != (seg < 2 ? '.' : '\0'))
			return false;
		i += n + 1;
	}
	return true;
}

CredentialKind
credential_read(HttpRequest *req, Credential *cred)
{
	/* in order of precedence, each header looked up only when needed */
	const char *auth = http_request_header(req, "Authorization");
	const char *key = NULL;
	const char *cookies = NULL;

	cred->value = NULL;
	cred->cookie[0] = '\0';
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
	{
		cred->value = auth + 7;
		while (*cred->value == ' ')
			cred->value++;
		cred->kind = CREDENTIAL_TOKEN;
	}
	else if ((key = http_request_header(req, "X-API-Key")) != NULL)
	{
		cred->value = key;
		cred->kind = CREDENTIAL_API_KEY;
		return cred->kind;
	}
	else if (credential_cookie[0] != '\0' &&
			 (cookies = http_request_header(req, "Cookie")) != NULL &&
			 cookie_get(cookies, credential_cookie, cred->cookie, sizeof(cred->cookie)))
	{
		cred->value = cred->cookie;
		cred->kind = CREDENTIAL_TOKEN;
	}
	else
	{
		cred->kind = CREDENTIAL_NONE;
		return cred->kind;
	}
	if (!credential_well_formed(cred->value))
		cred->kind = CREDENTIAL_MALFORMED;
	return cred->kind;
}

void
credential_wipe(Credential *cred)
{
	/* only what a cookie put there: the buffer is large and this runs per request */
	explicit_bzero(cred->cookie, strnlen(cred->cookie, sizeof(cred->cookie)));
	cred->value = NULL;
}

bool
credential_unauthorized(HttpRequest *req, bool invalid)
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
