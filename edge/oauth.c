/*
 * oauth.c
 *		The OAuth 2.0 endpoints of the edge: POST /v1/auth/token (RFC 6749:
 *		the password, refresh_token and client_credentials grants) and
 *		POST /v1/auth/revoke (RFC 7009), in front of warden.login(),
 *		warden.refresh(), warden.client_credentials() and warden.revoke().
 *
 * Requests are form-encoded (RFC 6749 appendix B) or JSON objects of
 * strings; a parameter given twice is an invalid_request (section 3.2).
 * Answers and errors have the shapes of sections 5.1 and 5.2; every answer
 * carries Cache-Control: no-store and Pragma: no-cache (section 5.1). The
 * SQL functions decide everything (passwords, lockout, MFA, rotation, reuse
 * detection); this file maps their SQLSTATEs to OAuth errors and never logs
 * or echoes a credential.
 *
 * A service account authenticates with its API key as client_secret, in
 * the body or with HTTP Basic (section 2.3.1); one method only.
 *
 * Rate limits (edge/ratelimit.c): the route table (routes.c) counts the
 * client's address before any handler here runs; a password grant then counts
 * once more against the login limits of the address and the user name,
 * before the database is asked. The continuation after each check reads
 * the body again (it is still there, and parsing is cheap) rather than
 * keep credentials across the wait.
 */
#include "oauth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "dbcall.h"
#include "form.h"
#include "log.h"
#include "ratelimit.h"

#define OAUTH_FIELDS 16
#define OAUTH_PARAMS 3

typedef enum OauthCall
{
	OAUTH_LOGIN,
	OAUTH_REFRESH,
	OAUTH_CLIENT_CREDENTIALS,
	OAUTH_REVOKE,
	OAUTH_INTROSPECT,
	OAUTH_MFA_ENROLL,
	OAUTH_MFA_CONFIRM
} OauthCall;

typedef struct OauthCallDef
{
	const char *sql;			/* one value: the answer's JSON text */
	int			nparams;
	const char *null_error;		/* the error when the value is null */
	bool		always_ok;		/* RFC 7009: any token is answered 200 */
} OauthCallDef;

/* RFC 6749 section 5.1, from a warden.token_response */
#define TOKEN_JSON "SELECT jsonb_strip_nulls(jsonb_build_object('access_token', access_token," \
	" 'token_type', 'Bearer', 'expires_in', expires_in, 'refresh_token', refresh_token))::text"

static const OauthCallDef oauth_calls[] = {
	[OAUTH_LOGIN] = {TOKEN_JSON " FROM warden.login($1, $2, $3)", 3},
	[OAUTH_REFRESH] = {TOKEN_JSON " FROM warden.refresh($1)", 1},
	[OAUTH_CLIENT_CREDENTIALS] = {TOKEN_JSON " FROM warden.client_credentials($1)", 1},
	[OAUTH_REVOKE] = {"SELECT '{}' FROM warden.revoke($1)", 1, NULL, true},
	/* the caller's key must carry the token:introspect scope */
	[OAUTH_INTROSPECT] = {"SELECT CASE WHEN coalesce((warden.verify_api_key($1)->'scopes')"
		" ? 'token:introspect', false) THEN warden.introspect($2)::text END", 2,
	"insufficient_scope"},
	/* the token's own subject, checked by the database (revocation too) */
	[OAUTH_MFA_ENROLL] = {"SELECT jsonb_build_object('otpauth_uri',"
	" warden.mfa_enroll(warden.verify($1)->>'sub'))::text", 1},
	[OAUTH_MFA_CONFIRM] = {"SELECT '{\"mfa\": \"enabled\"}'"
	" FROM warden.mfa_confirm(warden.verify($1)->>'sub', $2)", 2},
};

static int	oauth_timeout_ms = 3000;

void
oauth_configure(int db_timeout_ms)
{
	oauth_timeout_ms = db_timeout_ms;
}

/* Frees a copy of a credential, wiped first. NULL is fine. */
static void
oauth_secret_free(char *secret)
{
	if (secret != NULL)
	{
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}

/* --- answers --------------------------------------------------------------- */

static bool
oauth_headers(HttpRequest *req)
{
	return http_add_header(req, "Pragma", "no-cache");
}

/* An RFC 6749 section 5.2 (or RFC 6750 section 3.1) error. */
static bool
oauth_error(HttpRequest *req, unsigned status, const char *error,
			const char *description)
{
	const char *challenge = NULL;

	if (!oauth_headers(req))
		return false;
	if (status == 401)
		challenge = strcmp(error, "invalid_client") == 0 ? "Basic realm=\"warden\"" :
			strcmp(error, "invalid_token") == 0 ?
			"Bearer realm=\"warden\", error=\"invalid_token\"" : "Bearer realm=\"warden\"";
	if (challenge != NULL && !http_add_header(req, "WWW-Authenticate", challenge))
		return false;
	if (status == 503 && !http_add_header(req, "Retry-After", "1"))
		return false;
	return http_respond_json(req, status,
							 json_pack("{s:s, s:s}", "error", error,
									   "error_description", description));
}

typedef struct OauthErrorMap
{
	const char *sqlstate;		/* or a call's null_error */
	unsigned	status;
	const char *error;
	const char *description;
} OauthErrorMap;

#define INVALID_TOKEN(state) {state, 401, "invalid_token", "the access token is not valid"}

/* warden's SQLSTATEs (README, "Errors") as OAuth (RFC 6749, 6750) errors. */
static const OauthErrorMap oauth_errors[] = {
	INVALID_TOKEN("WT001"), INVALID_TOKEN("WT002"), INVALID_TOKEN("WT003"),
	INVALID_TOKEN("WT004"), INVALID_TOKEN("WT005"), INVALID_TOKEN("WT006"),
	INVALID_TOKEN("WT007"), INVALID_TOKEN("WT008"), INVALID_TOKEN("WT009"),
	INVALID_TOKEN("WT010"), INVALID_TOKEN("WT011"),
	{"WT203", 409, "mfa_already_enabled", "multi-factor authentication is already enabled"},
	{"WT204", 409, "mfa_not_enrolled", "no multi-factor enrolment to confirm"},
	{"insufficient_scope", 403, "insufficient_scope", "the client may not introspect tokens"},
	{"28P01", 400, "invalid_grant", "invalid username or password"},
	{"WT012", 400, "invalid_grant", "invalid refresh token"},
	{"WT101", 400, "invalid_grant", "invalid username or password"},
	{"WT201", 400, "mfa_required", "a one-time code (totp) is required"},
	{"WT202", 400, "invalid_grant", "invalid one-time code"},
	{"WT301", 401, "invalid_client", "invalid client credentials"},
	{"22001", 400, "invalid_request", "a parameter is too long"},
	{"22023", 400, "invalid_request", "a parameter is not valid"},
	{"57014", 503, "temporarily_unavailable", "the request took too long"},
};

static bool
oauth_answer_error(HttpRequest *req, const char *key)
{
	size_t		i;

	for (i = 0; i < sizeof(oauth_errors) / sizeof(oauth_errors[0]); i++)
		if (strcmp(oauth_errors[i].sqlstate, key) == 0)
			return oauth_error(req, oauth_errors[i].status, oauth_errors[i].error,
							   oauth_errors[i].description);
	log_write(LOG_LEVEL_ERROR, "unexpected database error",
			  "{s:s, s:s}", "sqlstate", key, "request_id", http_request_id(req));
	return oauth_error(req, 500, "server_error", "internal error");
}

/* Runs on the connection's thread once the statement is done. */
static bool
oauth_complete(HttpRequest *req)
{
	const DbCallResult *r = dbcall_result(req);
	const OauthCallDef *def = &oauth_calls[r->tag];
	json_t	   *answer;

	if (r->unavailable)
		return oauth_error(req, 503, "temporarily_unavailable",
						   "the service is temporarily unavailable");
	if (r->sqlstate[0] != '\0' && def->always_ok && strcmp(r->sqlstate, "57014") != 0)
		return oauth_headers(req) && http_respond_json(req, 200, json_object());
	if (r->sqlstate[0] != '\0')
		return oauth_answer_error(req, r->sqlstate);
	if (r->value == NULL)
		return def->null_error != NULL ? oauth_answer_error(req, def->null_error) :
			oauth_error(req, 500, "server_error", "internal error");
	answer = json_loads(r->value, 0, NULL);
	if (answer == NULL)
		return oauth_error(req, 500, "server_error", "internal error");
	return oauth_headers(req) && http_respond_json(req, 200, answer);
}

/* --- requests ---------------------------------------------------------------- */

/* The request's parameters (form or JSON) as fields pointing into store. */
typedef struct OauthParams
{
	FormField	f[OAUTH_FIELDS];
	int			n;
	char	   *buf;			/* form: the decoded text */
	json_t	   *json;			/* JSON: the object */
} OauthParams;

static void
oauth_params_free(OauthParams *p)
{
	free(p->buf);
	json_decref(p->json);
}

/* 0 ok; otherwise an error was answered (or could not be: -1). */
static int
oauth_parse_body(HttpRequest *req, OauthParams *p)
{
	size_t		len;
	const char *body = http_request_body(req, &len);
	const char *type = http_request_header(req, "Content-Type");
	bool		ok;

	memset(p, 0, sizeof(*p));
	if (body == NULL)
		body = "";
	if (type != NULL && strncasecmp(type, "application/json", 16) == 0)
	{
		const char *key;
		json_t	   *v;

		p->json = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
		if (p->json == NULL || !json_is_object(p->json))
			return oauth_error(req, 400, "invalid_request",
							   "the body is not a JSON object") ? 1 : -1;
		json_object_foreach(p->json, key, v)
		{
			if (!json_is_string(v) || p->n == OAUTH_FIELDS)
				return oauth_error(req, 400, "invalid_request",
								   "parameters must be strings") ? 1 : -1;
			p->f[p->n].name = key;
			p->f[p->n].value = json_string_value(v);
			p->n++;
		}
		return 0;
	}
	if (type == NULL || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0)
		return oauth_error(req, 415, "invalid_request",
						   "send application/x-www-form-urlencoded or application/json") ? 1 : -1;
	p->buf = malloc(len + 1);
	if (p->buf == NULL)
		return -1;
	p->n = OAUTH_FIELDS;
	switch (form_parse(body, len, p->buf, len + 1, p->f, &p->n))
	{
		case FORM_OK:
			return 0;
		case FORM_DUPLICATE:
			ok = oauth_error(req, 400, "invalid_request", "a parameter is given twice");
			break;
		case FORM_TOO_MANY:
			ok = oauth_error(req, 400, "invalid_request", "too many parameters");
			break;
		default:
			ok = oauth_error(req, 400, "invalid_request", "the body is not valid form encoding");
			break;
	}
	return ok ? 1 : -1;
}

/*
 * The request's parameters into p: 0, and the caller frees p; otherwise
 * an error was answered (or could not be: -1) and p is freed already.
 */
static int
oauth_parse(HttpRequest *req, OauthParams *p)
{
	int			rc = oauth_parse_body(req, p);

	if (rc != 0)
		oauth_params_free(p);
	return rc;
}

/*
 * The client secret from HTTP Basic (client_id:client_secret, each
 * form-encoded, RFC 6749 section 2.3.1), malloc'd; NULL if none. *bad is
 * set when the header is there but malformed.
 */
static char *
oauth_basic_secret(HttpRequest *req, bool *bad)
{
	const char *auth = http_request_header(req, "Authorization");
	unsigned char *raw;
	size_t		rawlen;
	char	   *colon;
	char	   *secret = NULL;
	FormField	f[1];
	int			n = 1;
	char	   *text;
	char	   *buf;

	*bad = false;
	if (auth == NULL || strncasecmp(auth, "Basic ", 6) != 0)
		return NULL;
	auth += 6;
	raw = malloc(strlen(auth) + 3);
	if (raw == NULL)
	{
		*bad = true;
		return NULL;
	}
	/* standard base64, not base64url: translate, and let b64url decode */
	text = (char *) raw;
	for (rawlen = 0; auth[rawlen] != '\0' && auth[rawlen] != '='; rawlen++)
		text[rawlen] = auth[rawlen] == '+' ? '-' : auth[rawlen] == '/' ? '_' : auth[rawlen];
	text[rawlen] = '\0';
	buf = malloc(b64url_decoded_max(rawlen) + 1);
	if (buf == NULL ||
		b64url_decode(text, rawlen, (unsigned char *) buf, b64url_decoded_max(rawlen),
					  &rawlen) != B64URL_OK)
	{
		free(raw);
		free(buf);
		*bad = true;
		return NULL;
	}
	free(raw);
	buf[rawlen] = '\0';
	colon = memchr(buf, ':', rawlen);
	if (colon == NULL || strlen(buf) != rawlen)
	{
		free(buf);
		*bad = true;
		return NULL;
	}
	/* the secret part is form-encoded: decode it as a one-field form */
	{
		size_t		slen = rawlen - (size_t) (colon + 1 - buf);
		char	   *wrapped = malloc(slen + 3);
		char	   *out = malloc(slen + 4);

		if (wrapped != NULL && out != NULL)
		{
			memcpy(wrapped, "s=", 2);
			memcpy(wrapped + 2, colon + 1, slen);
			if (form_parse(wrapped, slen + 2, out, slen + 3, f, &n) == FORM_OK && n == 1)
				secret = strdup(f[0].value);
		}
		free(wrapped);
		free(out);
	}
	free(buf);
	if (secret == NULL)
		*bad = true;
	return secret;
}

/* Suspends the request and hands the statement to the pool. */
static bool
oauth_submit(HttpRequest *req, OauthCall call, const char *const *params)
{
	return dbcall_submit(req, oauth_calls[call].sql, oauth_calls[call].nparams, params,
						 oauth_timeout_ms, oauth_complete, (int) call);
}

/* The password grant, after the login limits let it through. */
static bool
oauth_login(HttpRequest *req)
{
	OauthParams p;
	const char *params[OAUTH_PARAMS] = {NULL, NULL, NULL};
	bool		ok;
	int			rc = oauth_parse(req, &p);

	if (rc != 0)
		return rc > 0;
	params[0] = form_get(p.f, p.n, "username");
	params[1] = form_get(p.f, p.n, "password");
	params[2] = form_get(p.f, p.n, "totp");
	ok = params[0] != NULL && params[1] != NULL ?
		oauth_submit(req, OAUTH_LOGIN, params) :
		oauth_error(req, 400, "invalid_request", "username and password are required");
	oauth_params_free(&p);
	return ok;
}

bool
oauth_handle_token(HttpRequest *req)
{
	OauthParams p;
	const char *grant;
	const char *params[OAUTH_PARAMS] = {NULL, NULL, NULL};
	OauthCall	call;
	char	   *basic = NULL;
	bool		bad_basic;
	bool		ok;
	int			rc = oauth_parse(req, &p);

	if (rc != 0)
		return rc > 0;
	grant = form_get(p.f, p.n, "grant_type");
	basic = oauth_basic_secret(req, &bad_basic);
	if (grant == NULL)
		ok = oauth_error(req, 400, "invalid_request", "grant_type is required");
	else if (bad_basic)
		ok = oauth_error(req, 401, "invalid_client", "malformed Basic credentials");
	else if (strcmp(grant, "password") == 0)
	{
		params[0] = form_get(p.f, p.n, "username");
		params[1] = form_get(p.f, p.n, "password");
		ok = params[0] != NULL && params[1] != NULL ?
			ratelimit_check(req, RATELIMIT_LOGIN, params[0], oauth_login) :
			oauth_error(req, 400, "invalid_request", "username and password are required");
	}
	else if (strcmp(grant, "refresh_token") == 0)
	{
		params[0] = form_get(p.f, p.n, "refresh_token");
		call = OAUTH_REFRESH;
		ok = params[0] != NULL ? oauth_submit(req, call, params) :
			oauth_error(req, 400, "invalid_request", "refresh_token is required");
	}
	else if (strcmp(grant, "client_credentials") == 0)
	{
		const char *body_secret = form_get(p.f, p.n, "client_secret");

		params[0] = basic != NULL ? basic : body_secret;
		call = OAUTH_CLIENT_CREDENTIALS;
		if (basic != NULL && body_secret != NULL)
			ok = oauth_error(req, 400, "invalid_request",
							 "use one client authentication method");
		else if (params[0] == NULL)
			ok = oauth_error(req, 401, "invalid_client", "client authentication is required");
		else
			ok = oauth_submit(req, call, params);
	}
	else
		ok = oauth_error(req, 400, "unsupported_grant_type",
						 "grant_type must be password, refresh_token or client_credentials");
	oauth_secret_free(basic);
	oauth_params_free(&p);
	return ok;
}

/* RFC 7009: 200 for any token, known or not; only a missing one is an error. */
bool
oauth_handle_revoke(HttpRequest *req)
{
	OauthParams p;
	const char *params[OAUTH_PARAMS] = {NULL, NULL, NULL};
	bool		ok;
	int			rc = oauth_parse(req, &p);

	if (rc != 0)
		return rc > 0;
	params[0] = form_get(p.f, p.n, "token");
	if (params[0] == NULL)
		ok = oauth_error(req, 400, "invalid_request", "token is required");
	else
		ok = oauth_submit(req, OAUTH_REVOKE, params);
	oauth_params_free(&p);
	return ok;
}

/* The token of "Authorization: Bearer <token>" (RFC 6750 2.1), or NULL. */
static const char *
oauth_bearer(HttpRequest *req)
{
	const char *auth = http_request_header(req, "Authorization");

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return *auth != '\0' ? auth : NULL;
}

/*
 * RFC 7662: the caller is a service account authenticating with its API key
 * (HTTP Basic, client_secret) whose scopes include token:introspect.
 */
bool
oauth_handle_introspect(HttpRequest *req)
{
	OauthParams p;
	const char *params[OAUTH_PARAMS] = {NULL, NULL, NULL};
	char	   *basic;
	bool		bad_basic;
	bool		ok;
	int			rc = oauth_parse(req, &p);

	if (rc != 0)
		return rc > 0;
	basic = oauth_basic_secret(req, &bad_basic);
	params[0] = basic;
	params[1] = form_get(p.f, p.n, "token");
	if (basic == NULL)
		ok = oauth_error(req, 401, "invalid_client", "client authentication is required");
	else if (params[1] == NULL)
		ok = oauth_error(req, 400, "invalid_request", "token is required");
	else
		ok = oauth_submit(req, OAUTH_INTROSPECT, params);
	oauth_secret_free(basic);
	oauth_params_free(&p);
	return ok;
}

/* The caller's own enrolment, named by its access token. */
bool
oauth_handle_mfa_enroll(HttpRequest *req)
{
	const char *params[OAUTH_PARAMS] = {oauth_bearer(req), NULL, NULL};

	if (params[0] == NULL)
		return oauth_error(req, 401, "unauthorized", "a bearer token is required");
	return oauth_submit(req, OAUTH_MFA_ENROLL, params);
}

bool
oauth_handle_mfa_confirm(HttpRequest *req)
{
	OauthParams p;
	const char *params[OAUTH_PARAMS] = {oauth_bearer(req), NULL, NULL};
	bool		ok;
	int			rc;

	if (params[0] == NULL)
		return oauth_error(req, 401, "unauthorized", "a bearer token is required");
	rc = oauth_parse(req, &p);
	if (rc != 0)
		return rc > 0;
	params[1] = form_get(p.f, p.n, "code");
	ok = params[1] != NULL ? oauth_submit(req, OAUTH_MFA_CONFIRM, params) :
		oauth_error(req, 400, "invalid_request", "code is required");
	oauth_params_free(&p);
	return ok;
}

