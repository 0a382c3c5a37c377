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
 */
#include "oauth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "dbpool.h"
#include "form.h"
#include "log.h"
#include "pgconn.h"
#include "timeutil.h"

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

/*
 * Builds the answer from the statement's result; NULL with *error set for
 * an answer that is an error (a key of oauth_errors), NULL alone when the
 * result is not what the statement promises.
 */
typedef json_t *(*OauthBuild) (PGresult *res, const char **error);

static json_t *oauth_token_json(PGresult *res, const char **error);
static json_t *oauth_empty_json(PGresult *res, const char **error);
static json_t *oauth_introspect_json(PGresult *res, const char **error);
static json_t *oauth_enroll_json(PGresult *res, const char **error);
static json_t *oauth_confirm_json(PGresult *res, const char **error);

typedef struct OauthCallDef
{
	const char *sql;
	int			nparams;
	OauthBuild	build;
	bool		always_ok;		/* RFC 7009: any token is answered 200 */
} OauthCallDef;

#define TOKEN_COLUMNS "SELECT access_token, refresh_token, expires_in, token_type"

static const OauthCallDef oauth_calls[] = {
	[OAUTH_LOGIN] = {TOKEN_COLUMNS " FROM warden.login($1, $2, $3)", 3, oauth_token_json},
	[OAUTH_REFRESH] = {TOKEN_COLUMNS " FROM warden.refresh($1)", 1, oauth_token_json},
	[OAUTH_CLIENT_CREDENTIALS] = {TOKEN_COLUMNS " FROM warden.client_credentials($1)", 1,
	oauth_token_json},
	[OAUTH_REVOKE] = {"SELECT warden.revoke($1)", 1, oauth_empty_json, true},
	/* the caller's key must carry the token:introspect scope */
	[OAUTH_INTROSPECT] = {"SELECT warden.introspect($2)::text,"
		" coalesce((warden.verify_api_key($1)->'scopes') ? 'token:introspect', false)",
	2, oauth_introspect_json},
	/* the token's own subject, checked by the database (revocation too) */
	[OAUTH_MFA_ENROLL] = {"SELECT warden.mfa_enroll(warden.verify($1)->>'sub')", 1,
	oauth_enroll_json},
	[OAUTH_MFA_CONFIRM] = {"SELECT warden.mfa_confirm(warden.verify($1)->>'sub', $2)", 2,
	oauth_confirm_json},
};

typedef enum OauthOutcome
{
	OAUTH_DONE,					/* the statement ran; see sqlstate */
	OAUTH_UNAVAILABLE			/* no connection, or it broke */
} OauthOutcome;

typedef struct OauthJob
{
	DbJob		job;
	HttpRequest *req;
	OauthCall	call;
	char	   *params[OAUTH_PARAMS];	/* NULL: SQL null */
	/* results, written by the pool thread before it resumes the request */
	OauthOutcome outcome;
	char		sqlstate[6];	/* "" on success */
	const char *error;			/* a builder's error key, or NULL */
	json_t	   *answer;			/* the answer's body */
} OauthJob;

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

/* An RFC 6749 section 5.2 error. */
static bool
oauth_error(HttpRequest *req, unsigned status, const char *error,
			const char *description)
{
	if (!oauth_headers(req))
		return false;
	if (status == 401 && strcmp(error, "invalid_client") == 0 &&
		!http_add_header(req, "WWW-Authenticate", "Basic realm=\"warden\""))
		return false;
	if (status == 401 && strcmp(error, "invalid_token") == 0 &&
		!http_add_header(req, "WWW-Authenticate",
						 "Bearer realm=\"warden\", error=\"invalid_token\""))
		return false;
	if (status == 401 && strcmp(error, "unauthorized") == 0 &&
		!http_add_header(req, "WWW-Authenticate", "Bearer realm=\"warden\""))
		return false;
	if (status == 503 && !http_add_header(req, "Retry-After", "1"))
		return false;
	return http_respond_json(req, status,
							 json_pack("{s:s, s:s}", "error", error,
									   "error_description", description));
}

typedef struct OauthErrorMap
{
	const char *sqlstate;		/* or an error key of a builder */
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
oauth_answer_sqlstate(HttpRequest *req, const char *sqlstate)
{
	size_t		i;

	for (i = 0; i < sizeof(oauth_errors) / sizeof(oauth_errors[0]); i++)
		if (strcmp(oauth_errors[i].sqlstate, sqlstate) == 0)
			return oauth_error(req, oauth_errors[i].status, oauth_errors[i].error,
							   oauth_errors[i].description);
	log_write(LOG_LEVEL_ERROR, "unexpected database error",
			  "{s:s, s:s}", "sqlstate", sqlstate, "request_id", http_request_id(req));
	return oauth_error(req, 500, "server_error", "internal error");
}

/*
 * The job's parameter copies hold credentials: wipe them when the request
 * ends. http_set_data frees the block itself; its strings go here.
 */
static void
oauth_wipe(OauthJob *j)
{
	int			i;

	for (i = 0; i < OAUTH_PARAMS; i++)
	{
		oauth_secret_free(j->params[i]);
		j->params[i] = NULL;
	}
	json_decref(j->answer);
	j->answer = NULL;
}

/* Runs on the connection's thread once the pool thread is done. */
static bool
oauth_complete(HttpRequest *req)
{
	OauthJob   *j = http_data(req);
	json_t	   *answer;

	bool		ok;

	answer = j->answer;
	j->answer = NULL;
	if (j->outcome == OAUTH_UNAVAILABLE)
		ok = oauth_error(req, 503, "temporarily_unavailable",
						 "the service is temporarily unavailable");
	else if (j->sqlstate[0] != '\0' && oauth_calls[j->call].always_ok &&
			 strcmp(j->sqlstate, "57014") != 0)
		ok = oauth_headers(req) && http_respond_json(req, 200, json_object());
	else if (j->sqlstate[0] != '\0')
		ok = oauth_answer_sqlstate(req, j->sqlstate);
	else if (j->error != NULL)
		ok = oauth_answer_sqlstate(req, j->error);
	else if (answer == NULL)
		ok = oauth_error(req, 500, "server_error", "internal error");
	else
	{
		ok = oauth_headers(req) && http_respond_json(req, 200, answer);
		answer = NULL;
	}
	json_decref(answer);
	oauth_wipe(j);
	return ok;
}

/* --- the database ------------------------------------------------------------ */

static json_t *
oauth_token_json(PGresult *res, const char **error)
{
	json_t	   *o;

	(void) error;
	if (PQntuples(res) != 1 || PQnfields(res) != 4 || PQgetisnull(res, 0, 0))
		return NULL;
	o = json_pack("{s:s, s:s, s:I}", "access_token", PQgetvalue(res, 0, 0),
				  "token_type", "Bearer",
				  "expires_in", (json_int_t) atoll(PQgetvalue(res, 0, 2)));
	if (o != NULL && !PQgetisnull(res, 0, 1) &&
		json_object_set_new(o, "refresh_token", json_string(PQgetvalue(res, 0, 1))) != 0)
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
oauth_empty_json(PGresult *res, const char **error)
{
	(void) res;
	(void) error;
	return json_object();
}

static json_t *
oauth_introspect_json(PGresult *res, const char **error)
{
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || PQgetisnull(res, 0, 0))
		return NULL;
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
	{
		*error = "insufficient_scope";
		return NULL;
	}
	return json_loads(PQgetvalue(res, 0, 0), 0, NULL);
}

static json_t *
oauth_enroll_json(PGresult *res, const char **error)
{
	(void) error;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return NULL;
	return json_pack("{s:s}", "otpauth_uri", PQgetvalue(res, 0, 0));
}

static json_t *
oauth_confirm_json(PGresult *res, const char **error)
{
	(void) res;
	(void) error;
	return json_pack("{s:s}", "mfa", "enabled");
}

/* On a pool thread. */
static bool
oauth_run(DbJob *job, PGconn *conn, const char *err)
{
	OauthJob   *j = (OauthJob *) job;
	HttpRequest *req = j->req;
	PGresult   *res;
	char		qerr[256] = "";
	bool		conn_ok = true;

	j->outcome = OAUTH_UNAVAILABLE;
	if (conn != NULL)
	{
		res = pgconn_query(conn, oauth_calls[j->call].sql, oauth_calls[j->call].nparams,
						   (const char *const *) j->params, job->deadline_ms,
						   qerr, sizeof(qerr));
		conn_ok = res != NULL;
		if (res != NULL)
		{
			j->outcome = OAUTH_DONE;
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
			{
				j->answer = oauth_calls[j->call].build(res, &j->error);
				if (j->answer == NULL && j->error == NULL)
					snprintf(j->sqlstate, sizeof(j->sqlstate), "XX000");
			}
			else
			{
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

				snprintf(j->sqlstate, sizeof(j->sqlstate), "%s",
						 state != NULL ? state : "XX000");
			}
			PQclear(res);
		}
		else
			err = qerr;
	}
	if (j->outcome == OAUTH_UNAVAILABLE)
		log_write(LOG_LEVEL_WARN, "database unavailable", "{s:s, s:s}",
				  "error", err != NULL ? err : "unknown",
				  "request_id", http_request_id(req));
	http_resume(req);			/* last: the request may be gone after it */
	return conn_ok;
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
oauth_parse(HttpRequest *req, OauthParams *p)
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

/* Suspends the request and hands the call to the pool; complete answers. */
static bool
oauth_submit(HttpRequest *req, OauthCall call, const char *const *params,
			 HttpHandler complete)
{
	OauthJob   *j = calloc(1, sizeof(*j));
	int			i;

	if (j == NULL)
		return false;
	http_set_data(req, j, NULL);		/* freed with the request */
	for (i = 0; i < oauth_calls[call].nparams; i++)
	{
		if (params[i] != NULL && (j->params[i] = strdup(params[i])) == NULL)
			return false;
	}
	j->req = req;
	j->call = call;
	j->job.run = oauth_run;
	j->job.deadline_ms = timeutil_mono_ms() + oauth_timeout_ms;
	j->outcome = OAUTH_UNAVAILABLE;
	http_suspend(req, complete);
	if (!dbpool_submit(&j->job))
		http_resume(req);		/* the pool is full: 503 */
	return true;
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
	{
		oauth_params_free(&p);
		return rc > 0;
	}
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
		params[2] = form_get(p.f, p.n, "totp");
		call = OAUTH_LOGIN;
		ok = params[0] != NULL && params[1] != NULL ?
			oauth_submit(req, call, params, oauth_complete) :
			oauth_error(req, 400, "invalid_request", "username and password are required");
	}
	else if (strcmp(grant, "refresh_token") == 0)
	{
		params[0] = form_get(p.f, p.n, "refresh_token");
		call = OAUTH_REFRESH;
		ok = params[0] != NULL ? oauth_submit(req, call, params, oauth_complete) :
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
			ok = oauth_submit(req, call, params, oauth_complete);
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
	{
		oauth_params_free(&p);
		return rc > 0;
	}
	params[0] = form_get(p.f, p.n, "token");
	if (params[0] == NULL)
		ok = oauth_error(req, 400, "invalid_request", "token is required");
	else
		ok = oauth_submit(req, OAUTH_REVOKE, params, oauth_complete);
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
	{
		oauth_params_free(&p);
		return rc > 0;
	}
	basic = oauth_basic_secret(req, &bad_basic);
	params[0] = basic;
	params[1] = form_get(p.f, p.n, "token");
	if (basic == NULL)
		ok = oauth_error(req, 401, "invalid_client", "client authentication is required");
	else if (params[1] == NULL)
		ok = oauth_error(req, 400, "invalid_request", "token is required");
	else
		ok = oauth_submit(req, OAUTH_INTROSPECT, params, oauth_complete);
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
	return oauth_submit(req, OAUTH_MFA_ENROLL, params, oauth_complete);
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
	{
		oauth_params_free(&p);
		return rc > 0;
	}
	params[1] = form_get(p.f, p.n, "code");
	ok = params[1] != NULL ? oauth_submit(req, OAUTH_MFA_CONFIRM, params, oauth_complete) :
		oauth_error(req, 400, "invalid_request", "code is required");
	oauth_params_free(&p);
	return ok;
}
