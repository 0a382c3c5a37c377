/*
 * rpcargs.h
 *		The pure parsing of an RPC request (the edge's /v1/rpc/{function}):
 *		the function's name in the request target, named arguments from a
 *		query string or from a JSON object body, and each argument's value
 *		as the text input of its SQL type.
 *
 * Names: only lower-case SQL identifiers [a-z_][a-z0-9_]{0,62} name a
 * function, checked on the raw (not percent-decoded) target, so a name has
 * one spelling and never carries a quote, a dot, a slash or an escape.
 *
 * Arguments: at most RPCARGS_MAX (PostgreSQL's FUNC_MAX_ARGS), each named
 * once, by 1 to RPCARGS_NAME_MAX bytes of UTF-8 (NAMEDATALEN - 1). A JSON
 * body must be one object (RFC 8259, strictly: no comments, no trailing
 * commas, no NUL, no invalid UTF-8 or lone surrogates); values nest at most
 * RPCARGS_DEPTH_MAX deep. Numbers keep the text they were written with, so
 * a numeric argument loses no digit to a double. A query string is form
 * encoded (core/form.h) and its values are taken verbatim as the type's
 * text input.
 *
 * Nothing is allocated: names and decoded strings are written into a
 * caller's buffer of at least len + 1 bytes, the values of arrays and
 * objects point into the body, and rpcargs_value_text writes into a
 * caller's buffer after saying how much it needs. No global state.
 */
#ifndef WARDEN_RPCARGS_H
#define WARDEN_RPCARGS_H

#include <stdbool.h>
#include <stddef.h>

#define RPCARGS_MAX 100			/* FUNC_MAX_ARGS */
#define RPCARGS_NAME_MAX 63		/* NAMEDATALEN - 1 */
#define RPCARGS_DEPTH_MAX 64	/* nesting inside one argument's value */
#define RPCARGS_ARRAY_DIMS 6	/* MAXDIM: dimensions of an SQL array */

typedef enum RpcArgsStatus
{
	RPCARGS_OK = 0,
	RPCARGS_MALFORMED,			/* not JSON or form encoding; NUL; bad UTF-8 */
	RPCARGS_NOT_OBJECT,			/* JSON, but not an object */
	RPCARGS_DUPLICATE,			/* an argument named twice */
	RPCARGS_TOO_MANY,			/* more than RPCARGS_MAX arguments */
	RPCARGS_BAD_NAME,			/* an empty name, or a longer one */
	RPCARGS_TOO_DEEP,			/* nested deeper than RPCARGS_DEPTH_MAX */
	RPCARGS_TYPE_MISMATCH		/* a value its argument's type cannot take */
} RpcArgsStatus;

/* What an argument's value is. */
typedef enum RpcValueKind
{
	RPCV_NULL,					/* JSON null: SQL NULL */
	RPCV_STRING,				/* a JSON string, decoded */
	RPCV_NUMBER,				/* a JSON number, as written */
	RPCV_BOOL,					/* true or false */
	RPCV_ARRAY,					/* a JSON array */
	RPCV_OBJECT,				/* a JSON object */
	RPCV_TEXT					/* a query-string value: the text input as is */
} RpcValueKind;

/* How an SQL argument type takes its text input. */
typedef enum RpcArgType
{
	RPCT_SCALAR,				/* any type's own input: 42, abc, 2024-01-01 */
	RPCT_JSON,					/* json, jsonb: JSON text */
	RPCT_ARRAY,					/* an array of scalars: {"a","b"} */
	RPCT_JSON_ARRAY				/* json[], jsonb[]: elements are JSON texts */
} RpcArgType;

typedef struct RpcArg
{
	const char *name;			/* NUL-terminated */
	RpcValueKind kind;
	const char *text;			/* STRING, NUMBER, BOOL, TEXT: NUL-terminated */
	const char *json;			/* JSON kinds: the value's text in the body */
	size_t		json_len;
} RpcArg;

/* Is name[0..len) a reachable function name, [a-z_][a-z0-9_]{0,62}? */
extern bool rpcargs_name_valid(const char *name, size_t len);

/*
 * Splits a raw request target "<prefix><name>[?query]" into the name and
 * the query string (without its '?'; NULL when there is none). False when
 * the target does not start with prefix or the name is not valid.
 */
extern bool rpcargs_target(const char *target, size_t len, const char *prefix,
						   const char **name, size_t *name_len,
						   const char **query, size_t *query_len);

/*
 * The arguments of a query string q[0..len), each of kind RPCV_TEXT, into
 * args (room for RPCARGS_MAX); names and values point into buf
 * (buflen >= len + 1).
 */
extern RpcArgsStatus rpcargs_from_query(const char *q, size_t len, char *buf,
										size_t buflen, RpcArg *args,
										int *nargs);

/*
 * The arguments of a JSON object body[0..len) into args (room for
 * RPCARGS_MAX); names and strings are decoded into buf (buflen >= len + 1),
 * arrays and objects point into body, which must outlive args. An empty
 * body (or only white space) is no argument at all.
 */
extern RpcArgsStatus rpcargs_from_json(const char *body, size_t len, char *buf,
									   size_t buflen, RpcArg *args,
									   int *nargs);

/*
 * The text input of an argument's value for an SQL type of the given kind:
 * a string as is, a number or boolean as written, an array as an SQL array
 * literal, a JSON value as its JSON text (a string then keeps its quotes).
 * Returns the length (without the terminator) and writes it, NUL-
 * terminated, when outlen is larger; out may be NULL with outlen 0 to ask
 * for the length. -1 when the type cannot take the value (an object for a
 * scalar, an object inside an array of scalars, more than
 * RPCARGS_ARRAY_DIMS dimensions) or the value is null (SQL NULL: the
 * caller binds no text at all).
 */
extern long rpcargs_value_text(const RpcArg *arg, RpcArgType type, char *out,
							   size_t outlen);

/*
 * name as a quoted SQL identifier ("a""b" for a"b), for the names that go
 * into a call's SQL text: they come from the catalog, never from the
 * request, and are quoted all the same. Returns the length and writes it,
 * NUL-terminated, when outlen is larger (as rpcargs_value_text).
 */
extern long rpcargs_quote_ident(const char *name, char *out, size_t outlen);

/* A fixed sentence, never quoting the input. */
extern const char *rpcargs_strerror(RpcArgsStatus status);

#endif							/* WARDEN_RPCARGS_H */
