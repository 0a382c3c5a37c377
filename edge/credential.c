/*
 * credential.c
 *		The caller's credential and the RFC 6750 answer (see credential.h).
 */
#include "credential.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "cookie.h"
#include "jwt.h"

static const char *credential_cookie = "";

void
credential_configure(const char *token_cookie)
{
	credential_cookie = token_cookie;
}

/*
 * Structure only (three base64url segments of JSON, RS256, no crit, not
 * too large), checked before the database is asked: what fails here would
 * fail there, so garbage costs no statement. The signature and the claims
 * are the database's to judge.
 */
static bool
credential_well_formed(const char *token)
{
	jwt_token	t;
	bool		ok = jwt_parse(token, strlen(token), 0, &t) == JWT_OK;

	jwt_token_free(&t);
	return ok;
}

CredentialKind
credential_read(HttpRequest *req, Credential *cred)
{
	const char *auth = http_request_header(req, "Authorization");
	const char *key = http_request_header(req, "X-API-Key");
	const char *cookies = http_request_header(req, "Cookie");

	cred->value = NULL;
	cred->cookie[0] = '\0';
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
	{
		cred->value = auth + 7;
		while (*cred->value == ' ')
			cred->value++;
		cred->kind = CREDENTIAL_TOKEN;
	}
	else if (key != NULL)
	{
		cred->value = key;
		cred->kind = CREDENTIAL_API_KEY;
		return cred->kind;
	}
	else if (credential_cookie[0] != '\0' && cookies != NULL &&
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
	explicit_bzero(cred->cookie, sizeof(cred->cookie));
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
