/*
 * rpcmeta.h
 *		What the edge knows of the functions /v1/rpc may call: for one name
 *		in the API schema, each function of that name (its arguments with
 *		their types, defaults, volatility, and whether it returns a set or
 *		nothing), read from pg_catalog and kept per name.
 *
 * Staleness is bounded three ways: an entry is read again after
 * WARDEN_RPC_CACHE_TTL_MS; a request the entry would refuse (no such
 * function, arguments that fit none, a GET of a VOLATILE one) or a call
 * that fails as if the function had changed (undefined function, an
 * ambiguous call, raised before anything ran) drops the entry and reads it
 * again at once, so a stale entry can delay nothing and refuse nothing; and
 * a GET, which the entry allows for STABLE and IMMUTABLE functions only,
 * runs in a read-only transaction, so a function that became VOLATILE
 * cannot write through a stale entry (its entry is dropped when that is
 * refused).
 *
 * Threads: entries are shared, immutable once published, and reference-
 * counted; the table is guarded by one mutex held only for lookups and
 * swaps, never across a database call.
 */
#ifndef EDGE_RPCMETA_H
#define EDGE_RPCMETA_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "rpcargs.h"

typedef struct RpcParam
{
	char	   *name;			/* NULL: unnamed, cannot be given by name */
	Oid			type;
	RpcArgType	kind;
	bool		variadic;
} RpcParam;

typedef struct RpcFunc
{
	Oid			oid;
	char		volatility;		/* 'i', 's' or 'v' */
	bool		retset;
	bool		returns_void;
	int			nparams;		/* input arguments */
	int			ndefaults;		/* the last ndefaults have defaults */
	RpcParam   *params;
} RpcFunc;

typedef struct RpcMeta RpcMeta;

struct RpcMeta
{
	char		name[RPCARGS_NAME_MAX + 1];
	int			nfuncs;			/* 0: no such function */
	RpcFunc    *funcs;
	bool		role_unsafe;	/* WARDEN_DB_ROLE missing, superuser or BYPASSRLS */
	bool		login_superuser;	/* the edge logs in as a superuser */
	long long	loaded_ms;
	int			refs;			/* under the table's mutex */
	RpcMeta    *next;			/* hash chain */
};

/*
 * The catalog statement: $1 the schema, $2 the function name, $3 the role;
 * one JSON value that rpcmeta_load() reads.
 */
extern const char *const rpcmeta_sql;

extern void rpcmeta_configure(int ttl_ms);

/* A fresh entry for name (a reference the caller releases), or NULL. */
extern RpcMeta *rpcmeta_get(const char *name);

/*
 * An entry from the catalog statement's JSON, published for name (replacing
 * what was there; an entry with no function is returned, not kept) and
 * returned with a reference; NULL when the JSON is not what the statement
 * returns, or memory ran out.
 */
extern RpcMeta *rpcmeta_load(const char *name, const char *json);

/* Drops the published entry for name if it is still m (it went stale). */
extern void rpcmeta_forget(const RpcMeta *m);

extern void rpcmeta_release(RpcMeta *m);

/*
 * The one function of the entry the arguments fit: every argument names an
 * input argument, every argument without a default is given. NULL when
 * none or more than one fit; why then says so for the client (names only,
 * never values).
 */
extern const RpcFunc *rpcmeta_choose(const RpcMeta *m, const RpcArg *args,
									 int nargs, char *why, size_t whylen);

/* The input argument of f named name, or NULL. */
extern const RpcParam *rpcmeta_param(const RpcFunc *f, const char *name);

/* Frees every entry (at exit, when no request is left). */
extern void rpcmeta_clear(void);

#endif							/* EDGE_RPCMETA_H */
