/*
 * pgconn.h
 *		libpq connections that never wait past a deadline.
 *
 * Deadlines are absolute timeutil_mono_ms() values. A PGconn is used by
 * one thread at a time (libpq's rule); these functions keep no state.
 */
#ifndef EDGE_PGCONN_H
#define EDGE_PGCONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One statement of a pipeline: text parameters, always bound, never spliced
 * into the SQL; types NULL lets the server infer them.
 */
/* The most statements one pipeline carries. */
#define PGCONN_PIPELINE_MAX 16

typedef struct PgStatement
{
	const char *sql;
	int			nparams;
	const Oid  *types;
	const char *const *values;	/* NULL entries are SQL nulls */
} PgStatement;

/* One transaction of pgconn_pipeline_many: its statements and their results. */
typedef struct PgPipelineJob
{
	const PgStatement *stmts;
	int			n;
	PGresult  **results;		/* n first results, for the caller to PQclear */
	/* pgconn.c's own, from sending to reading */
	int			how[PGCONN_PIPELINE_MAX];
	uint64_t	hashes[PGCONN_PIPELINE_MAX];
	char	   *keys[PGCONN_PIPELINE_MAX];
	size_t		keylens[PGCONN_PIPELINE_MAX];
} PgPipelineJob;

extern bool pgconn_conninfo_valid(const char *conninfo);
extern PGconn *pgconn_connect(const char *conninfo, int64_t deadline_ms,
							  char *err, size_t errlen);
extern PGresult *pgconn_query(PGconn *conn, const char *sql, int nparams,
							  const char *const *params, int64_t deadline_ms,
							  char *err, size_t errlen);
extern bool pgconn_pipeline(PGconn *conn, const PgStatement *stmts, int n,
							int64_t deadline_ms, PGresult **results,
							char *err, size_t errlen);
extern bool pgconn_pipeline_many(PGconn *conn, PgPipelineJob *jobs, int njobs,
								 int64_t deadline_ms, char *err, size_t errlen);
extern bool pgconn_select1(PGconn *conn, int64_t deadline_ms,
						   char *err, size_t errlen);

#endif							/* EDGE_PGCONN_H */
