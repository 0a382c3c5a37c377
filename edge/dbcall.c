/*
 * dbcall.c
 *		SQL statements for one suspended request (see dbcall.h).
 *
 * One code path serves one statement and many: the request id's
 * application_name statement is put in front of the caller's and the lot
 * goes to the pool as one transaction, so even a single statement costs
 * one round trip instead of two (and a busy pool sends many calls in one).
 */
#include "dbcall.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbpool.h"
#include "log.h"
#include "reqid.h"
#include "textfmt.h"
#include "timeutil.h"

/*
 * The request id goes into application_name first, so the server's log
 * lines (%a) and pg_stat_activity name the request they serve. Set in a
 * condition, not the target list: the row that comes back has no columns,
 * nothing for the server to format and send or for the edge to read.
 */
#define DBCALL_APPNAME_SQL "SELECT WHERE " DBCALL_APPNAME_EXPR("$1") " IS NOT NULL"

/*
 * After the commit, in a transaction of its own: the insert position is at
 * or past the commit record even with synchronous_commit off, where the
 * write position (pg_current_wal_lsn) may not have reached it yet.
 */
#define DBCALL_LSN_SQL "SELECT pg_catalog.pg_current_wal_insert_lsn()::pg_catalog.text"

static atomic_ulong dbcall_unavailable;
static DbPool *dbcall_primary_pool;

typedef struct DbCall
{
	DbJob		job;			/* first: the pool hands it back */
	HttpRequest *req;
	bool		primary;		/* on the primary's pool */
	int			nstmts;			/* the application_name and LSN statements included */
	int			first;			/* the first caller's statement: 0 or 1 */
	int			ncaller;		/* the last caller's statement is ncaller */
	PgStatement stmts[DBCALL_MAX_STATEMENTS + 2];
	PGresult   *results[DBCALL_MAX_STATEMENTS + 2];	/* the pool's, then ours */
	char	   *copy;			/* the statements' text, types and parameters */
	size_t		copy_len;		/* wiped when freed: parameters may be secrets */
	DbCallResult result;
	PGresult   *value_res;		/* holds result.value */
	PGresult   *error_res;		/* holds result.message and result.hint */
	char		request_id[REQID_MAX + 1];
	const char *appname_values[1];
	int64_t		submitted_us;	/* when the request was handed over */
} DbCall;

static void
dbcall_free(void *data)
{
	DbCall	   *c = data;

	if (c->copy != NULL)
	{
		explicit_bzero(c->copy, c->copy_len);
		free(c->copy);
	}
	PQclear(c->value_res);
	PQclear(c->error_res);
	free(c);
}

/* The first failed result (on the loop that ran the job): its SQLSTATE and messages. */
static void
dbcall_error(DbCall *c, PGconn *conn, PGresult **res, int i)
{
	const char *state = PQresultErrorField(res[i], PG_DIAG_SQLSTATE);

	/*
	 * No SQLSTATE on a connection that broke: libpq's own "server closed
	 * the connection", which is unavailability, not an error of the call.
	 */
	if (state == NULL && PQstatus(conn) != CONNECTION_OK)
	{
		c->result.unavailable = true;
		return;
	}
	snprintf(c->result.sqlstate, sizeof(c->result.sqlstate), "%s",
			 state != NULL ? state : "XX000");
	c->result.failed = i > c->first ? i - c->first : 0;
	c->result.message = PQresultErrorField(res[i], PG_DIAG_MESSAGE_PRIMARY);
	c->result.hint = PQresultErrorField(res[i], PG_DIAG_MESSAGE_HINT);
	c->result.has_context = PQresultErrorField(res[i], PG_DIAG_CONTEXT) != NULL;
	c->error_res = res[i];
	res[i] = NULL;
}

/*
 * On the loop that ran the job, after the statements ran on conn (their
 * results in c->results) or could not (conn NULL, err says why): the
 * outcome into c->result, and the request resumed. False when the
 * connection must go.
 */
static bool
dbcall_done(DbJob *job, PGconn *conn, const char *err)
{
	DbCall	   *c = (DbCall *) job;
	HttpRequest *req = c->req;
	PGresult  **res = c->results;
	bool		conn_ok = true;
	int			i;

	c->result.unavailable = true;
	if (conn != NULL)
	{
		c->result.unavailable = false;
		for (i = 0; i <= c->ncaller; i++)
		{
			ExecStatusType st = PQresultStatus(res[i]);

			if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
			{
				dbcall_error(c, conn, res, i);
				break;
			}
		}
		/* the LSN after the commit, when asked for and it committed */
		i = c->ncaller + 1;
		if (i < c->nstmts && c->result.sqlstate[0] == '\0' && !c->result.unavailable &&
			PQresultStatus(res[i]) == PGRES_TUPLES_OK && PQntuples(res[i]) == 1 &&
			!PQgetisnull(res[i], 0, 0))
			snprintf(c->result.lsn, sizeof(c->result.lsn), "%s", PQgetvalue(res[i], 0, 0));
		i = c->ncaller;
		if (c->result.sqlstate[0] == '\0' && !c->result.unavailable &&
			PQresultStatus(res[i]) == PGRES_TUPLES_OK &&
			PQntuples(res[i]) > 0 && PQnfields(res[i]) > 0 &&
			!PQgetisnull(res[i], 0, 0))
		{
			c->value_res = res[i];
			res[i] = NULL;
			c->result.value = PQgetvalue(c->value_res, 0, 0);
		}
		for (i = 0; i < c->nstmts; i++)
		{
			PQclear(res[i]);
			res[i] = NULL;
		}
		conn_ok = !c->result.unavailable;
		if (c->result.unavailable)
			err = "the connection broke";
	}
	if (c->result.unavailable && c->primary)
	{
		atomic_fetch_add(&dbcall_unavailable, 1);
		log_write(LOG_LEVEL_WARN, "database unavailable", "{s:s, s:s}",
				  "error", err != NULL ? err : "unknown",
				  "request_id", http_request_id(req));
	}
	else if (c->result.unavailable)
		log_write(LOG_LEVEL_DEBUG, "read replica unavailable", "{s:s, s:s}",
				  "error", err != NULL ? err : "unknown",
				  "request_id", http_request_id(req));
	http_resume(req);			/* last: the request may be gone after it */
	return conn_ok;
}

/*
 * Copies stmts into c, after its application_name statement unless the
 * first of them names the request itself.
 */
static bool
dbcall_copy(DbCall *c, const PgStatement *stmts, int n, bool own_appname)
{
	size_t		nvalues = 0;
	size_t		text = 0;
	size_t		ntypes = 0;
	char	  **values;
	Oid		   *types;
	char	   *p;

	/* one block, laid out as: parameter pointers, types, then every text */
	for (int i = 0; i < n; i++)
	{
		text += strlen(stmts[i].sql) + 1;
		nvalues += (size_t) stmts[i].nparams;
		if (stmts[i].types != NULL)
			ntypes += (size_t) stmts[i].nparams;
		for (int k = 0; k < stmts[i].nparams; k++)
			if (stmts[i].values[k] != NULL)
				text += strlen(stmts[i].values[k]) + 1;
	}
	c->copy_len = nvalues * sizeof(char *) + ntypes * sizeof(Oid) + text;
	c->copy = malloc(c->copy_len > 0 ? c->copy_len : 1);
	if (c->copy == NULL)
		return false;
	values = (char **) c->copy;
	types = (Oid *) (values + nvalues);
	p = (char *) (types + ntypes);

	c->first = own_appname ? 0 : 1;
	c->nstmts = c->first;
	c->ncaller = c->first - 1;
	if (!own_appname)
		c->stmts[0] = (PgStatement) {DBCALL_APPNAME_SQL, 1, NULL, c->appname_values};
	for (int i = 0; i < n; i++)
	{
		PgStatement *s = &c->stmts[c->nstmts];
		size_t		len = strlen(stmts[i].sql) + 1;

		memcpy(p, stmts[i].sql, len);
		s->sql = p;
		p += len;
		s->nparams = stmts[i].nparams;
		s->types = NULL;
		if (stmts[i].types != NULL && stmts[i].nparams > 0)
		{
			memcpy(types, stmts[i].types, (size_t) stmts[i].nparams * sizeof(Oid));
			s->types = types;
			types += stmts[i].nparams;
		}
		s->values = (const char *const *) values;
		for (int k = 0; k < stmts[i].nparams; k++)
		{
			const char *v = stmts[i].values[k];

			*values = NULL;
			if (v != NULL)
			{
				len = strlen(v) + 1;
				memcpy(p, v, len);
				*values = p;
				p += len;
			}
			values++;
		}
		c->ncaller = c->nstmts++;
	}
	return true;
}

void
dbcall_set_primary(DbPool *pool)
{
	dbcall_primary_pool = pool;
}

DbPool *
dbcall_primary(void)
{
	return dbcall_primary_pool;
}

bool
dbcall_submit_on(HttpRequest *req, DbPool *pool, unsigned flags,
				 const PgStatement *stmts, int n, int64_t deadline_ms,
				 HttpHandler complete, int tag)
{
	DbCall	   *c = calloc(1, sizeof(*c));

	if (c == NULL || n < 1 || n > DBCALL_MAX_STATEMENTS)
	{
		free(c);
		return false;
	}
	if (pool == NULL)
		pool = dbcall_primary_pool;
	http_set_call(req, c, dbcall_free);
	c->req = req;
	c->primary = pool == dbcall_primary_pool;
	textfmt_copy(c->request_id, sizeof(c->request_id), http_request_id(req));
	c->appname_values[0] = c->request_id;
	if (!dbcall_copy(c, stmts, n, (flags & DBCALL_OWN_APPNAME) != 0))
		return false;
	c->job.pipe.split = 0;
	if (flags & DBCALL_COMMIT_LSN)
	{
		c->stmts[c->nstmts++] = (PgStatement) {DBCALL_LSN_SQL, 0, NULL, NULL};
		c->job.pipe.split = c->ncaller + 1;
	}
	c->submitted_us = timeutil_mono_us();
	c->job.pipe.stmts = c->stmts;
	c->job.pipe.n = c->nstmts;
	c->job.pipe.results = c->results;
	c->job.done = dbcall_done;
	c->job.deadline_ms = deadline_ms;
	c->result.unavailable = true;
	c->result.failed = -1;
	c->result.tag = tag;
	http_suspend(req, complete);
	if (pool == NULL || !dbpool_submit(pool, &c->job))
	{
		if (c->primary)
			atomic_fetch_add(&dbcall_unavailable, 1);
		http_resume(req);		/* the pool is full: unavailable */
	}
	return true;
}

bool
dbcall_submit_batch(HttpRequest *req, const PgStatement *stmts, int n,
					int64_t deadline_ms, HttpHandler complete, int tag)
{
	return dbcall_submit_on(req, NULL, 0, stmts, n, deadline_ms, complete, tag);
}

bool
dbcall_submit(HttpRequest *req, const char *sql, int nparams,
			  const char *const *params, int timeout_ms, HttpHandler complete,
			  int tag)
{
	PgStatement s = {sql, nparams, NULL, params};

	return dbcall_submit_batch(req, &s, 1, timeutil_mono_ms() + timeout_ms,
							   complete, tag);
}

unsigned long
dbcall_unavailable_total(void)
{
	return atomic_load(&dbcall_unavailable);
}

/*
 * The outcome, read by the completion handler; also records the time spent
 * on the database (queueing included) for Server-Timing.
 */
const DbCallResult *
dbcall_result(HttpRequest *req)
{
	DbCall	   *c = http_call(req);

	if (c->submitted_us != 0)
	{
		http_add_timing(req, "db", (double) (timeutil_mono_us() - c->submitted_us) / 1000.0);
		c->submitted_us = 0;
	}
	return &c->result;
}
