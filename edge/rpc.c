/*
 * rpc.c
 *		/v1/rpc/{function}: calls a function of the API schema
 *		(WARDEN_API_SCHEMA) with the request's named arguments, as the
 *		configured database role (WARDEN_DB_ROLE), with the caller's identity
 *		in warden.principal and warden.claims, so that the database's own
 *		privileges and Row Level Security decide what the call may see and
 *		do; answers the result as JSON.
 *
 * The flow, each step a completion of the last, none blocking the event
 * loop (database steps are suspended requests served by the pool):
 *	1. parse: the function's name from the raw target (404 unless a
 *	   lower-case SQL name), the arguments from the query string (GET) or
 *	   the JSON object body (POST), and the credential (401 without one):
 *	   nothing of this needs the database (core/rpcargs.c).
 *	2. authorize (rpcauth.c): rpc:execute on function:<name>, or 401/403;
 *	   then the rate limits of the client's address and the principal
 *	   (ratelimit.c, 429). Only then does the edge look at the function, so
 *	   a caller who may not call it learns nothing of it, not even whether
 *	   it exists.
 *	3. the function's catalog entry (rpcmeta.c), from the cache or read.
 *	4. the call, in one round trip and one transaction: warden.principal and
 *	   warden.claims set locally, for GET transaction_read_only, the role
 *	   switched locally, then the function, its arguments bound as
 *	   parameters typed with the argument types (never spliced; the only
 *	   names in the SQL text are the schema's and the catalog's, quoted).
 *	5. answer: the result as JSON (a set as an array, a row as an object,
 *	   void as 204), or the error mapped by SQLSTATE (errors.c).
 *
 * Read replicas (replicas.c): a call of a function that cannot write
 * (STABLE or IMMUTABLE, by the catalog entry) goes to a replica the router
 * picks, with the client's Warden-LSN taken into account; everything else
 * (VOLATILE calls, the catalog, authorization) to the primary. A stale
 * entry cannot misroute a write: a standby refuses it (25006), and the
 * call then runs on the primary, as it does after any error a standby
 * raises where the primary would not, and after a replica that could not
 * run it in time (its pool gets half the request's remaining budget, so
 * the primary keeps the other half). Nothing a replica ran can have
 * written, so running it again is safe. With replicas configured, a
 * VOLATILE call that succeeds answers with Warden-LSN: the WAL position
 * after its commit (dbcall.c), which the client sends back to read its
 * own writes.
 *
 * State: one RpcRequest per request (http_data), freed with it; the
 * argument copies are wiped then, since functions may take secrets.
 */
#include "rpc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "credential.h"
#include "dbcall.h"
#include "errors.h"
#include "log.h"
#include "pglsn.h"
#include "ratelimit.h"
#include "replicas.h"
#include "rpcargs.h"
#include "rpcauth.h"
#include "rpcmeta.h"
#include "textfmt.h"
#include "timeutil.h"

/*
 * The request's name (application_name, DBCALL_OWN_APPNAME), the caller's
 * identity, then the role, in one statement: a function's arguments are
 * evaluated in order, and warden.principal may only be set before the role
 * switch takes the edge's own privileges away. In a condition rather than
 * the target list, so that the row that comes back has no columns: the
 * values set (the claims among them) are not formatted and sent back for
 * nothing, which costs the server and the edge more than the concat.
 */
#define RPC_SESSION(before_role) \
	"SELECT WHERE pg_catalog.concat(" DBCALL_APPNAME_EXPR("$1") "," \
	" pg_catalog.set_config('warden.principal', $2, true)," \
	" pg_catalog.set_config('warden.claims', $3, true)," before_role \
	" pg_catalog.set_config('role', $4, true)) IS NOT NULL"
#define RPC_SESSION_SQL RPC_SESSION("")
/* the same, read-only: a GET can never write, even if the cached volatility is stale */
#define RPC_SESSION_READ_ONLY_SQL \
	RPC_SESSION(" pg_catalog.set_config('transaction_read_only', 'on', true),")

/* The header a write answers with, and a read may send back. */
#define RPC_LSN_HEADER "Warden-LSN"

static const char *rpc_schema = "api";
static const char *rpc_role = "";
static char *rpc_schema_quoted;
static int	rpc_timeout_ms = 3000;
static atomic_bool rpc_warned_superuser;

typedef struct RpcRequest
{
	char		name[RPCARGS_NAME_MAX + 1];
	bool		read_only;		/* GET or HEAD */
	int64_t		deadline_ms;	/* one budget for every step */
	char	   *buf;			/* decoded names and strings */
	size_t		buflen;
	RpcArg	   *args;			/* nargs of them, malloc'd (see rpc_parse_args) */
	int			nargs;
	RpcAuth		auth;			/* who calls, and may they */
	char	   *claims;			/* their verified claims, for warden.claims */
	RpcMeta    *meta;
	bool		meta_fresh;		/* read for this request */
	bool		retried;		/* the call already ran once on a stale entry */
	const RpcFunc *func;		/* the function called, in meta */
	int			call_index;		/* the call's statement in the batch */
	uint64_t	lsn;			/* the client's Warden-LSN; 0: none */
	int			replica;		/* the replica the call went to, or -1 */
	int			guard_index;	/* replicas_guard_sql's statement, or -1 */
	bool		replica_failed; /* a replica failed it: the primary's now */
} RpcRequest;

void
rpc_configure(const char *api_schema, const char *db_role, int db_timeout_ms,
			  int cache_ttl_ms)
{
	long		n = rpcargs_quote_ident(api_schema, NULL, 0);

	rpc_schema = api_schema;
	rpc_role = db_role;
	rpc_timeout_ms = db_timeout_ms;
	rpcmeta_configure(cache_ttl_ms);
	free(rpc_schema_quoted);
	rpc_schema_quoted = malloc((size_t) n + 1);
	if (rpc_schema_quoted != NULL)
		rpcargs_quote_ident(api_schema, rpc_schema_quoted, (size_t) n + 1);
	if (rpc_role[0] == '\0')
		log_write(LOG_LEVEL_INFO, "/v1/rpc is off: WARDEN_DB_ROLE is not set", NULL);
}

void
rpc_stop(void)
{
	rpcmeta_clear();
	free(rpc_schema_quoted);
	rpc_schema_quoted = NULL;
}

static void
rpc_request_free(void *data)
{
	RpcRequest *st = data;

	if (st->buf != NULL)
	{
		explicit_bzero(st->buf, st->buflen);
		free(st->buf);
	}
	if (st->claims != NULL)
	{
		explicit_bzero(st->claims, strlen(st->claims));
		free(st->claims);
	}
	free(st->args);
	rpcauth_release(&st->auth);
	rpcmeta_release(st->meta);
	free(st);
}

/* --- answers ----------------------------------------------------------------- */

static bool
rpc_not_found(HttpRequest *req)
{
	return errors_respond(req, EDGE_ERR_NOT_FOUND, "no such function");
}

static bool
rpc_unavailable(HttpRequest *req)
{
	return errors_respond(req, EDGE_ERR_UNAVAILABLE, NULL);
}

static bool
rpc_post_only(HttpRequest *req, const char *message)
{
	return http_add_header(req, "Allow", "POST") &&
		errors_respond(req, EDGE_ERR_METHOD_NOT_ALLOWED, message);
}

/* --- 4. the call ------------------------------------------------------------- */

/*
 * A growing SQL text, in room of its own until it outgrows it (a call's
 * text mostly fits: no malloc per call); failed is set once memory ran
 * out. Released by rpc_sql_free.
 */
typedef struct RpcSql
{
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		failed;
	char		room[256];
} RpcSql;

static void
rpc_sql_free(RpcSql *s)
{
	if (s->buf != s->room)
		free(s->buf);
}

static void
rpc_sql_add(RpcSql *s, const char *text, size_t n)
{
	if (s->failed)
		return;
	if (s->buf == NULL)
	{
		s->buf = s->room;
		s->cap = sizeof(s->room);
	}
	if (s->len + n + 1 > s->cap)
	{
		size_t		cap = s->cap;
		char	   *grown;

		while (cap < s->len + n + 1)
			cap *= 2;
		grown = s->buf == s->room ? malloc(cap) : realloc(s->buf, cap);
		if (grown == NULL)
		{
			s->failed = true;
			return;
		}
		if (s->buf == s->room)
			memcpy(grown, s->room, s->len);
		s->buf = grown;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, text, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static void
rpc_sql_str(RpcSql *s, const char *text)
{
	rpc_sql_add(s, text, strlen(text));
}

static void
rpc_sql_ident(RpcSql *s, const char *name)
{
	long		n = rpcargs_quote_ident(name, NULL, 0);
	char		small[128];
	char	   *q = (size_t) n < sizeof(small) ? small : malloc((size_t) n + 1);

	if (q == NULL)
	{
		s->failed = true;
		return;
	}
	rpcargs_quote_ident(name, q, (size_t) n + 1);
	rpc_sql_add(s, q, (size_t) n);
	if (q != small)
		free(q);
}

/*
 * The call's SQL: "schema"."function"("arg" => $1, VARIADIC "xs" => $2),
 * wrapped so that one value comes back, already JSON: a set aggregated
 * into an array (one element per row, in the function's order), anything
 * else through to_json(), void as it is.
 */
static bool
rpc_call_sql(const RpcRequest *st, const RpcFunc *f, RpcSql *out)
{
	RpcSql	   *s = out;
	char		num[TEXTFMT_U64_MAX];
	int			k;

	if (f->retset)
		rpc_sql_str(s, "SELECT pg_catalog.concat('[', pg_catalog.string_agg("
					"COALESCE(pg_catalog.to_json(r)::pg_catalog.text, 'null'), ','), ']') FROM ");
	else if (f->returns_void)
		rpc_sql_str(s, "SELECT ");
	else
		rpc_sql_str(s, "SELECT pg_catalog.to_json(");
	rpc_sql_str(s, rpc_schema_quoted);
	rpc_sql_str(s, ".");
	rpc_sql_ident(s, st->name);
	rpc_sql_str(s, "(");
	for (k = 0; k < st->nargs; k++)
	{
		/* rpcmeta_choose() found every argument in f */
		const RpcParam *p = rpcmeta_param(f, st->args[k].name);

		if (k > 0)
			rpc_sql_str(s, ", ");
		if (p->variadic)
			rpc_sql_str(s, "VARIADIC ");
		/* the catalog's spelling of the name, quoted */
		rpc_sql_ident(s, p->name);
		rpc_sql_str(s, " => $");
		textfmt_u64(num, (uint64_t) k + 1);
		rpc_sql_str(s, num);
	}
	rpc_sql_str(s, ")");
	if (f->retset)
		rpc_sql_str(s, " AS r");
	else if (!f->returns_void)
		rpc_sql_str(s, ")");
	return !s->failed;
}

static bool rpc_called(HttpRequest *req);
static bool rpc_read_catalog(HttpRequest *req);

/*
 * Whether to read the function's catalog entry again, once per request:
 * only when what was used came from the cache. Drops the cached entry.
 */
static bool
rpc_reread(HttpRequest *req)
{
	RpcRequest *st = http_data(req);

	if (st->meta_fresh || st->retried)
		return false;
	st->retried = true;
	rpcmeta_forget(st->meta);
	rpcmeta_release(st->meta);
	st->meta = NULL;
	st->func = NULL;
	return true;
}

static bool
rpc_call(HttpRequest *req)
{
	RpcRequest *st = http_data(req);
	const RpcMeta *m = st->meta;
	const RpcFunc *f;
	char		why[160];
	Oid			types[RPCARGS_MAX];
	char	   *values[RPCARGS_MAX] = {0};
	const char *session[4];
	const char *guard[1];
	char		lsn[PGLSN_TEXT_MAX];
	PgStatement stmts[3];
	ReplicaChoice where = {NULL, -1, false, REPLICA_FALLBACK_DOWN};
	int64_t		deadline = st->deadline_ms;
	unsigned	flags = 0;
	RpcSql		sql = {0};
	int			n = 0;
	int			k;
	bool		ok;

	if (m->login_superuser && !atomic_exchange(&rpc_warned_superuser, true))
		log_write(LOG_LEVEL_WARN, "the edge logs in to PostgreSQL as a superuser: code "
				  "running as WARDEN_DB_ROLE can RESET ROLE to it; use a login role "
				  "that is only a member of warden_auth and WARDEN_DB_ROLE", NULL);
	if (m->role_unsafe && rpc_reread(req))
		return rpc_read_catalog(req);	/* the role may have been fixed since */
	if (m->role_unsafe)
	{
		log_write(LOG_LEVEL_ERROR, "/v1/rpc refused: WARDEN_DB_ROLE does not exist, or is "
				  "a superuser or has BYPASSRLS (row level security would not apply)",
				  "{s:s}", "request_id", http_request_id(req));
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}
	why[0] = '\0';
	f = m->nfuncs > 0 ? rpcmeta_choose(m, st->args, st->nargs, why, sizeof(why)) : NULL;

	/*
	 * Refused on what the cache says (no such function, arguments that do
	 * not fit, a GET of a VOLATILE one)? The function may have changed
	 * since: read the catalog once more before refusing.
	 */
	if ((f == NULL || (st->read_only && f->volatility == 'v')) && rpc_reread(req))
		return rpc_read_catalog(req);
	if (m->nfuncs == 0)
		return rpc_not_found(req);
	if (f == NULL)
		return errors_respond(req, EDGE_ERR_BAD_REQUEST, why);
	st->func = f;
	if (st->read_only && f->volatility == 'v')
		return rpc_post_only(req, "this function may write: call it with POST");

	for (k = 0; k < st->nargs; k++)
	{
		const RpcParam *p = rpcmeta_param(f, st->args[k].name);
		long		len;

		types[k] = p->type;
		if (st->args[k].kind == RPCV_NULL)
			continue;			/* SQL NULL: no text at all */
		len = rpcargs_value_text(&st->args[k], p->kind, NULL, 0);
		if (len < 0)
		{
			snprintf(why, sizeof(why), "argument \"%s\": %s", p->name,
					 p->kind == RPCT_SCALAR ? "a JSON object or array fits only a json, jsonb or array argument" :
					 "an array of this type cannot hold that value");
			ok = errors_respond(req, EDGE_ERR_BAD_REQUEST, why);
			goto done;
		}
		values[k] = malloc((size_t) len + 1);
		if (values[k] == NULL)
		{
			ok = false;
			goto done;
		}
		rpcargs_value_text(&st->args[k], p->kind, values[k], (size_t) len + 1);
	}
	if (!rpc_call_sql(st, f, &sql))
	{
		rpc_sql_free(&sql);
		ok = false;
		goto done;
	}
	/* a read to a replica, a write with its commit's WAL position */
	if (replicas_count() > 0 && f->volatility == 'v')
		flags |= DBCALL_COMMIT_LSN;
	else if (replicas_count() > 0 && !st->replica_failed)
	{
		replicas_choose(st->lsn, &where);
		if (where.pool == NULL)
			replicas_fell_back(where.why);
	}
	st->replica = where.index;
	/* the session first: it names the request (DBCALL_OWN_APPNAME) */
	session[0] = http_request_id(req);
	session[1] = st->auth.who.subject;
	session[2] = st->claims;
	session[3] = rpc_role;
	stmts[n++] = (PgStatement) {st->read_only ? RPC_SESSION_READ_ONLY_SQL : RPC_SESSION_SQL,
		4, NULL, session};
	flags |= DBCALL_OWN_APPNAME;
	st->guard_index = -1;
	if (where.guard)
	{
		pglsn_format(st->lsn, lsn);
		guard[0] = lsn;
		st->guard_index = n;
		stmts[n++] = (PgStatement) {replicas_guard_sql, 1, NULL, guard};
	}
	if (where.pool != NULL)
		deadline = timeutil_mono_ms() + (st->deadline_ms - timeutil_mono_ms()) / 2;
	stmts[n++] = (PgStatement) {sql.buf, st->nargs, types, (const char *const *) values};
	st->call_index = n - 1;
	ok = dbcall_submit_on(req, where.pool, flags, stmts, n, deadline, rpc_called, 0);
	rpc_sql_free(&sql);

done:
	for (k = 0; k < st->nargs; k++)
	{
		if (values[k] != NULL)
		{
			explicit_bzero(values[k], strlen(values[k]));
			free(values[k]);
		}
	}
	return ok;
}

/*
 * A replica's outcome that the primary must give instead: the replica
 * could not run the call in time, had not replayed the client's LSN, or
 * failed it as only a standby does. Counted; the call goes again, to the
 * primary.
 */
static bool
rpc_replica_failed(HttpRequest *req, const DbCallResult *r)
{
	RpcRequest *st = http_data(req);
	ReplicaFallback why;

	if (r->unavailable)
		why = REPLICA_FALLBACK_UNAVAILABLE;
	else if (r->sqlstate[0] == '\0')
		return false;
	else if (r->failed == st->guard_index &&
			 strcmp(r->sqlstate, REPLICAS_GUARD_SQLSTATE) == 0)
		why = REPLICA_FALLBACK_LSN;
	else if (replicas_retry_on_primary(r->sqlstate, r->has_context))
		why = REPLICA_FALLBACK_ERROR;
	else
		return false;
	replicas_fell_back(why);
	st->replica_failed = true;
	return true;
}

/* 5. The call's outcome. */
static bool
rpc_called(HttpRequest *req)
{
	RpcRequest *st = http_data(req);
	const DbCallResult *r = dbcall_result(req);
	unsigned	status;
	char	   *text;

	if (st->replica >= 0 && rpc_replica_failed(req, r))
		return rpc_call(req);
	if (r->unavailable)
		return rpc_unavailable(req);
	if (st->func->volatility != 'v')
		replicas_read_served(st->replica);
	if (r->sqlstate[0] == '\0')
	{
		if (r->lsn[0] != '\0' && !http_add_header(req, RPC_LSN_HEADER, r->lsn))
			return false;
		if (st->func->returns_void)
			return http_respond_empty(req, 204);
		text = strdup(r->value != NULL ? r->value : "null");
		return text != NULL && http_respond_text(req, 200, "application/json", text);
	}
	if (r->failed != st->call_index)
	{
		/* setting the identity or the role failed: the set-up, not the call */
		log_write(LOG_LEVEL_ERROR, "/v1/rpc could not set up the call (WARDEN_DB_ROLE, "
				  "or the login role's membership in it and in warden_auth)",
				  "{s:s, s:s}", "sqlstate", r->sqlstate, "request_id", http_request_id(req));
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}

	/*
	 * The function changed since its entry was read (dropped, its
	 * arguments renamed or retyped, an overload added): the call failed
	 * while PostgreSQL resolved it, before anything ran (no CONTEXT). Read
	 * the catalog again and call once more. 0A000: the connection's prepared
	 * call (pgconn.c) was planned for another result type (a function
	 * dropped and made again returning something else). 22P02: a connection
	 * that prepared the call reads the arguments as the old types before it
	 * notices the function changed (where one that had not would answer
	 * 42883), so a value that fits the new type only is refused there, with
	 * the parameter as CONTEXT; if the value is just wrong, the second call
	 * says so again.
	 */
	if ((((strcmp(r->sqlstate, "42883") == 0 || strcmp(r->sqlstate, "42725") == 0 ||
		   strcmp(r->sqlstate, "0A000") == 0) && !r->has_context) ||
		 strcmp(r->sqlstate, "22P02") == 0) && rpc_reread(req))
		return rpc_read_catalog(req);
	/* a GET that wrote: the function is VOLATILE now, read it again next time */
	if (strcmp(r->sqlstate, "25006") == 0)
	{
		rpcmeta_forget(st->meta);
		if (!http_add_header(req, "Allow", "POST"))
			return false;
	}
	status = errors_sqlstate_status(r->sqlstate, NULL);
	if (status >= 500)
		log_write(LOG_LEVEL_WARN, "rpc call failed", "{s:s, s:s}",
				  "sqlstate", r->sqlstate, "request_id", http_request_id(req));
	return errors_respond_sqlstate(req, r->sqlstate, r->message, r->hint);
}

/* --- 3. the catalog ----------------------------------------------------------- */

static bool
rpc_catalog_read(HttpRequest *req)
{
	RpcRequest *st = http_data(req);
	const DbCallResult *r = dbcall_result(req);

	if (r->unavailable)
		return rpc_unavailable(req);
	if (r->sqlstate[0] != '\0' || r->value == NULL ||
		(st->meta = rpcmeta_load(st->name, r->value)) == NULL)
	{
		log_write(LOG_LEVEL_ERROR, "/v1/rpc could not read the catalog", "{s:s, s:s}",
				  "sqlstate", r->sqlstate, "request_id", http_request_id(req));
		return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}
	st->meta_fresh = true;
	return rpc_call(req);
}

static bool
rpc_read_catalog(HttpRequest *req)
{
	RpcRequest *st = http_data(req);
	const char *params[3] = {rpc_schema, st->name, rpc_role};
	PgStatement s = {rpcmeta_sql, 3, NULL, params};

	return dbcall_submit_batch(req, &s, 1, st->deadline_ms, rpc_catalog_read, 0);
}

/* --- 2. authorized? ------------------------------------------------------------- */

static bool rpc_authorization(HttpRequest *req, RpcRequest *st, RpcAuthStatus status);
static bool rpc_within_limits(HttpRequest *req);

static bool
rpc_authorized(HttpRequest *req)
{
	RpcRequest *st = http_data(req);

	return rpc_authorization(req, st, rpcauth_next(req, &st->auth));
}

/* Where step one stands: on to the call, an answer, or still waiting. */
static bool
rpc_authorization(HttpRequest *req, RpcRequest *st, RpcAuthStatus status)
{
	switch (status)
	{
		case RPCAUTH_PENDING:
			return true;
		case RPCAUTH_ALLOWED:
			st->claims = rpcauth_claims(&st->auth);
			if (st->claims == NULL)
				return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
			break;
		case RPCAUTH_NONE:
			return credential_unauthorized(req, false);
		case RPCAUTH_FORBIDDEN:
			return errors_respond(req, EDGE_ERR_FORBIDDEN,
								  "rpc:execute on this function is not granted");
		case RPCAUTH_INVALID:
			return credential_unauthorized(req, true);
		case RPCAUTH_UNAVAILABLE:
			return rpc_unavailable(req);
		case RPCAUTH_ERROR:
			return errors_respond(req, EDGE_ERR_INTERNAL, NULL);
	}
	/* the client's address and the principal, without waiting for Redis */
	return ratelimit_check(req, RATELIMIT_CLIENT | RATELIMIT_PRINCIPAL | RATELIMIT_NOWAIT,
						   st->auth.who.subject, rpc_within_limits);
}

/* --- 2b. within the rate limits? ------------------------------------------------- */

static bool
rpc_within_limits(HttpRequest *req)
{
	RpcRequest *st = http_data(req);

	st->meta = rpcmeta_get(st->name);
	if (st->meta != NULL)
		return rpc_call(req);
	return rpc_read_catalog(req);
}

/* --- 1. the request ------------------------------------------------------------- */

/* application/json, with parameters (charset) or without. */
static bool
rpc_is_json(const char *type)
{
	return type != NULL && strncasecmp(type, "application/json", 16) == 0 &&
		(type[16] == '\0' || type[16] == ';' || type[16] == ' ');
}

/*
 * Where a worker parses arguments: room for as many as a function can take,
 * of which a call keeps only those it has. In the request it was 4 KiB
 * zeroed and freed per call, for the usual one or two.
 */
static __thread RpcArg rpc_args_room[RPCARGS_MAX];

/* The arguments: 0 ok; else an error was answered (1) or could not be (-1). */
static int
rpc_parse_args(HttpRequest *req, RpcRequest *st, const char *query, size_t qlen)
{
	size_t		blen;
	const char *body = http_request_body(req, &blen);
	RpcArgsStatus rs;
	RpcArg	   *args = rpc_args_room;

	if (st->read_only)
	{
		if (blen > 0)
			return errors_respond(req, EDGE_ERR_BAD_REQUEST,
								  "a GET takes its arguments in the query string, not a body") ? 1 : -1;
		st->buflen = qlen + 1;
		st->buf = malloc(st->buflen);
		if (st->buf == NULL)
			return -1;
		rs = rpcargs_from_query(query != NULL ? query : "", qlen, st->buf, st->buflen,
								args, &st->nargs);
	}
	else
	{
		if (query != NULL && qlen > 0)
			return errors_respond(req, EDGE_ERR_BAD_REQUEST,
								  "a POST takes its arguments in the JSON body, not the query string") ? 1 : -1;
		if (blen > 0 && !rpc_is_json(http_request_header(req, "Content-Type")))
			return errors_respond(req, EDGE_ERR_UNSUPPORTED_MEDIA_TYPE,
								  "send the arguments as an application/json object") ? 1 : -1;
		st->buflen = blen + 1;
		st->buf = malloc(st->buflen);
		if (st->buf == NULL)
			return -1;
		rs = rpcargs_from_json(body != NULL ? body : "", blen, st->buf, st->buflen,
							   args, &st->nargs);
	}
	if (rs != RPCARGS_OK)
	{
		st->nargs = 0;
		return errors_respond(req, EDGE_ERR_BAD_REQUEST, rpcargs_strerror(rs)) ? 1 : -1;
	}
	if (st->nargs > 0)
	{
		/* names and values point into buf and the body, which the request keeps */
		st->args = malloc((size_t) st->nargs * sizeof(RpcArg));
		if (st->args == NULL)
		{
			st->nargs = 0;
			return -1;
		}
		memcpy(st->args, args, (size_t) st->nargs * sizeof(RpcArg));
	}
	return 0;
}

bool
rpc_handle(HttpRequest *req)
{
	RpcRequest *st;
	size_t		tlen;
	const char *target = http_request_target(req, &tlen);
	const char *name;
	const char *query;
	size_t		nlen;
	size_t		qlen;
	Credential	cred;
	RpcAuthStatus status;
	const char *lsn;
	int			rc;

	if (rpc_role[0] == '\0')
		return errors_respond(req, EDGE_ERR_NOT_IMPLEMENTED,
							  "/v1/rpc is off on this server (WARDEN_DB_ROLE is not set)");
	/* the raw target: one spelling per name, no escapes, no traversal */
	if (!rpcargs_target(target, tlen, RPC_PREFIX, &name, &nlen, &query, &qlen))
		return rpc_not_found(req);
	st = calloc(1, sizeof(*st));
	if (st == NULL || rpc_schema_quoted == NULL)
	{
		free(st);
		return false;
	}
	http_set_data(req, st, rpc_request_free);
	memcpy(st->name, name, nlen);
	st->name[nlen] = '\0';
	st->read_only = (http_request_method(req) & (HTTP_GET | HTTP_HEAD)) != 0;
	st->deadline_ms = timeutil_mono_ms() + rpc_timeout_ms;
	st->call_index = -1;
	st->replica = -1;
	st->guard_index = -1;
	/* who is calling comes first: a stranger learns nothing, not even a parse error */
	if (credential_read(req, &cred) == CREDENTIAL_NONE || cred.kind == CREDENTIAL_MALFORMED)
	{
		credential_wipe(&cred);
		return credential_unauthorized(req, cred.kind == CREDENTIAL_MALFORMED);
	}
	if ((rc = rpc_parse_args(req, st, query, qlen)) != 0)
	{
		credential_wipe(&cred);
		return rc > 0;
	}
	/* the position of the client's last write, to read it back */
	lsn = http_request_header(req, RPC_LSN_HEADER);
	if (lsn != NULL && !pglsn_parse(lsn, strlen(lsn), &st->lsn))
	{
		credential_wipe(&cred);
		return errors_respond(req, EDGE_ERR_BAD_REQUEST,
							  RPC_LSN_HEADER " must be a WAL position as a write's answer "
							  "gave it, like 0/16B3748");
	}
	status = rpcauth_start(req, &st->auth, &cred, st->name, st->deadline_ms, rpc_authorized);
	credential_wipe(&cred);
	return rpc_authorization(req, st, status);
}
