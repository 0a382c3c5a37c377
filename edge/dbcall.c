/*
 * dbcall.c
 *		One SQL statement for one suspended request (see dbcall.h).
 */
#include "dbcall.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbpool.h"
#include "log.h"
#include "pgconn.h"
#include "reqid.h"
#include "timeutil.h"

static atomic_ulong dbcall_unavailable;

typedef struct DbCall
{
	DbJob		job;			/* first: the pool hands it back */
	HttpRequest *req;
	const char *sql;
	int			nparams;
	char	   *params[DBCALL_MAX_PARAMS];
	DbCallResult result;
	char	   *value;			/* result.value, owned */
	char		request_id[REQID_MAX + 1];
	int64_t		submitted_us;	/* when the request was handed over */
} DbCall;

static void
dbcall_free(void *data)
{
	DbCall	   *c = data;
	int			i;

	for (i = 0; i < c->nparams; i++)
	{
		if (c->params[i] != NULL)
		{
			explicit_bzero(c->params[i], strlen(c->params[i]));
			free(c->params[i]);
		}
	}
	free(c->value);
	free(c);
}

/* On a pool thread. */
static bool
dbcall_run(DbJob *job, PGconn *conn, const char *err)
{
	DbCall	   *c = (DbCall *) job;
	HttpRequest *req = c->req;
	PGresult   *res = NULL;
	char		qerr[256] = "";
	bool		conn_ok = true;

	c->result.unavailable = true;
	if (conn != NULL)
	{
		const char *tag[1] = {c->request_id};

		/*
		 * The request id goes into application_name first, so the server's
		 * log lines (%a) and pg_stat_activity name the request they serve.
		 */
		res = pgconn_query(conn, "SELECT set_config('application_name',"
						   " 'warden-edge ' || $1, false)", 1, tag,
						   job->deadline_ms, qerr, sizeof(qerr));
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			PQclear(res);
			res = pgconn_query(conn, c->sql, c->nparams, (const char *const *) c->params,
							   job->deadline_ms, qerr, sizeof(qerr));
		}
		conn_ok = res != NULL;
		if (res != NULL)
		{
			c->result.unavailable = false;
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
			{
				if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
				{
					c->value = strdup(PQgetvalue(res, 0, 0));
					if (c->value == NULL)
						snprintf(c->result.sqlstate, sizeof(c->result.sqlstate), "53200");
				}
			}
			else
			{
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

				snprintf(c->result.sqlstate, sizeof(c->result.sqlstate), "%s",
						 state != NULL ? state : "XX000");
			}
			PQclear(res);
		}
		else
			err = qerr;
	}
	c->result.value = c->value;
	if (c->result.unavailable)
		atomic_fetch_add(&dbcall_unavailable, 1);
	if (c->result.unavailable)
		log_write(LOG_LEVEL_WARN, "database unavailable", "{s:s, s:s}",
				  "error", err != NULL ? err : "unknown",
				  "request_id", http_request_id(req));
	http_resume(req);			/* last: the request may be gone after it */
	return conn_ok;
}

bool
dbcall_submit(HttpRequest *req, const char *sql, int nparams,
			  const char *const *params, int timeout_ms, HttpHandler complete,
			  int tag)
{
	DbCall	   *c = calloc(1, sizeof(*c));
	int			i;

	if (c == NULL || nparams > DBCALL_MAX_PARAMS)
	{
		free(c);
		return false;
	}
	http_set_data(req, c, dbcall_free);
	c->nparams = nparams;
	for (i = 0; i < nparams; i++)
		if (params[i] != NULL && (c->params[i] = strdup(params[i])) == NULL)
			return false;
	c->req = req;
	snprintf(c->request_id, sizeof(c->request_id), "%s", http_request_id(req));
	c->submitted_us = timeutil_mono_us();
	c->sql = sql;
	c->job.run = dbcall_run;
	c->job.deadline_ms = timeutil_mono_ms() + timeout_ms;
	c->result.unavailable = true;
	c->result.tag = tag;
	http_suspend(req, complete);
	if (!dbpool_submit(&c->job))
	{
		atomic_fetch_add(&dbcall_unavailable, 1);
		http_resume(req);		/* the pool is full: unavailable */
	}
	return true;
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
	DbCall	   *c = http_data(req);

	if (c->submitted_us != 0)
	{
		http_add_timing(req, "db", (double) (timeutil_mono_us() - c->submitted_us) / 1000.0);
		c->submitted_us = 0;
	}
	return &c->result;
}
