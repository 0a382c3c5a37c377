/*
 * rpcmeta.c
 *		The catalog of the functions /v1/rpc may call, cached per name (see
 *		rpcmeta.h for how staleness is bounded).
 *
 * What is reachable is decided here, in SQL on pg_catalog: functions
 * (prokind 'f', so no procedures, aggregates or window functions) of the
 * API schema by exact name; not those taking a pseudo-type (anyelement,
 * "any", internal), which no bound parameter can carry, nor those
 * returning one other than void, or an anonymous record without OUT
 * arguments (trigger functions and the like cannot be called this way).
 *
 * Overloads: a name may have several functions; the arguments a request
 * names pick the one they fit (rpcmeta_choose). A request that fits none
 * or several is refused rather than guessed at.
 *
 * Locking: rpcmeta_lock guards the table and every entry's refs.
 */
#include "rpcmeta.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define RPCMETA_BUCKETS 256
/* Names kept at most; past that the table starts over (memory, not truth). */
#define RPCMETA_MAX 4096

#define JSON_TYPES "('pg_catalog.json'::pg_catalog.regtype, 'pg_catalog.jsonb'::pg_catalog.regtype)"

const char *const rpcmeta_sql =
"SELECT pg_catalog.json_build_object("
" 'role', (SELECT pg_catalog.json_build_object('unsafe', r.rolsuper OR r.rolbypassrls)"
"   FROM pg_catalog.pg_roles r WHERE r.rolname = $3),"
" 'login_superuser', (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = SESSION_USER),"
" 'functions', COALESCE((SELECT pg_catalog.json_agg(f ORDER BY f.oid) FROM ("
"  SELECT p.oid::pg_catalog.int8 AS oid, p.provolatile AS volatility, p.proretset AS set,"
"   p.prorettype = 'pg_catalog.void'::pg_catalog.regtype AS void,"
"   p.pronargdefaults AS defaults,"
"   COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
"     'name', a.name, 'type', a.type::pg_catalog.int8, 'variadic', a.mode = 'v',"
"     'kind', CASE WHEN bt.oid IN " JSON_TYPES " THEN 'j'"
"                  WHEN bt.typinput = 'pg_catalog.array_in'::pg_catalog.regproc"
"                  THEN CASE WHEN bt.typelem IN " JSON_TYPES " THEN 'J' ELSE 'a' END"
"                  ELSE 's' END) ORDER BY a.ord)"
"     FROM ROWS FROM (pg_catalog.unnest(COALESCE(p.proallargtypes, p.proargtypes::pg_catalog.oid[])),"
"                     pg_catalog.unnest(COALESCE(p.proargmodes,"
"                       pg_catalog.array_fill('i'::pg_catalog.\"char\", ARRAY[p.pronargs::pg_catalog.int4]))),"
"                     pg_catalog.unnest(p.proargnames)) WITH ORDINALITY AS a(type, mode, name, ord)"
"     JOIN pg_catalog.pg_type t ON t.oid = a.type"
"     JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END"
"    WHERE a.mode IN ('i', 'b', 'v')), '[]') AS args"
"  FROM pg_catalog.pg_proc p"
"  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
"  JOIN pg_catalog.pg_type rt ON rt.oid = p.prorettype"
"  WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind = 'f'"
"   AND (rt.typtype <> 'p' OR rt.oid = 'pg_catalog.void'::pg_catalog.regtype"
"        OR (rt.oid = 'pg_catalog.record'::pg_catalog.regtype"
"            AND p.proargmodes OPERATOR(pg_catalog.&&) '{o,b,t}'::pg_catalog.\"char\"[]))"
"   AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes::pg_catalog.oid[]) AS i(type)"
"     JOIN pg_catalog.pg_type it ON it.oid = i.type WHERE it.typtype = 'p')) f), '[]'))";

static pthread_mutex_t rpcmeta_lock = PTHREAD_MUTEX_INITIALIZER;
static RpcMeta *rpcmeta_table[RPCMETA_BUCKETS];
static int	rpcmeta_count;
static int	rpcmeta_ttl_ms = 10000;

void
rpcmeta_configure(int ttl_ms)
{
	rpcmeta_ttl_ms = ttl_ms;
}

static unsigned
rpcmeta_hash(const char *name)
{
	unsigned	h = 2166136261u;	/* FNV-1a */

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char) *name) * 16777619u;
	return h % RPCMETA_BUCKETS;
}

static void
rpcmeta_free(RpcMeta *m)
{
	int			i;
	int			k;

	for (i = 0; i < m->nfuncs; i++)
	{
		for (k = 0; k < m->funcs[i].nparams; k++)
			free(m->funcs[i].params[k].name);
		free(m->funcs[i].params);
	}
	free(m->funcs);
	free(m);
}

/* Drops the table's reference to m (under the lock); frees it if last. */
static void
rpcmeta_unref_locked(RpcMeta *m)
{
	if (--m->refs == 0)
		rpcmeta_free(m);
}

RpcMeta *
rpcmeta_get(const char *name)
{
	RpcMeta    *m;
	long long	now = (long long) timeutil_mono_ms();

	pthread_mutex_lock(&rpcmeta_lock);
	for (m = rpcmeta_table[rpcmeta_hash(name)]; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			break;
	if (m != NULL && now - m->loaded_ms < rpcmeta_ttl_ms)
		m->refs++;
	else
		m = NULL;
	pthread_mutex_unlock(&rpcmeta_lock);
	return m;
}

/* Unlinks the entry for name, if any (under the lock). */
static void
rpcmeta_unlink_locked(const char *name, const RpcMeta *only)
{
	RpcMeta   **link = &rpcmeta_table[rpcmeta_hash(name)];

	for (; *link != NULL; link = &(*link)->next)
	{
		if (strcmp((*link)->name, name) == 0)
		{
			RpcMeta    *m = *link;

			if (only != NULL && m != only)
				return;
			*link = m->next;
			m->next = NULL;
			rpcmeta_count--;
			rpcmeta_unref_locked(m);
			return;
		}
	}
}

/* Everything unlinked (under the lock): a full table starts over. */
static void
rpcmeta_clear_locked(void)
{
	int			b;

	for (b = 0; b < RPCMETA_BUCKETS; b++)
	{
		while (rpcmeta_table[b] != NULL)
		{
			RpcMeta    *m = rpcmeta_table[b];

			rpcmeta_table[b] = m->next;
			m->next = NULL;
			rpcmeta_unref_locked(m);
		}
	}
	rpcmeta_count = 0;
}

static bool
rpcmeta_parse_func(json_t *f, RpcFunc *out)
{
	json_t	   *args = json_object_get(f, "args");
	const char *vol = json_string_value(json_object_get(f, "volatility"));
	json_t	   *a;
	size_t		i;

	if (!json_is_array(args) || vol == NULL ||
		!json_is_integer(json_object_get(f, "oid")) ||
		!json_is_integer(json_object_get(f, "defaults")))
		return false;
	out->oid = (Oid) json_integer_value(json_object_get(f, "oid"));
	out->volatility = vol[0];
	out->retset = json_is_true(json_object_get(f, "set"));
	out->returns_void = json_is_true(json_object_get(f, "void"));
	out->ndefaults = (int) json_integer_value(json_object_get(f, "defaults"));
	out->nparams = 0;
	out->params = calloc(json_array_size(args) + 1, sizeof(RpcParam));
	if (out->params == NULL)
		return false;
	json_array_foreach(args, i, a)
	{
		RpcParam   *p = &out->params[out->nparams];
		const char *name = json_string_value(json_object_get(a, "name"));
		const char *kind = json_string_value(json_object_get(a, "kind"));

		if (kind == NULL || !json_is_integer(json_object_get(a, "type")))
			return false;
		out->nparams++;
		if (name != NULL && name[0] != '\0' && (p->name = strdup(name)) == NULL)
			return false;
		p->type = (Oid) json_integer_value(json_object_get(a, "type"));
		p->kind = kind[0] == 'j' ? RPCT_JSON : kind[0] == 'J' ? RPCT_JSON_ARRAY :
			kind[0] == 'a' ? RPCT_ARRAY : RPCT_SCALAR;
		p->variadic = json_is_true(json_object_get(a, "variadic"));
	}
	return out->ndefaults >= 0 && out->ndefaults <= out->nparams;
}

RpcMeta *
rpcmeta_load(const char *name, const char *json)
{
	json_t	   *doc = json_loads(json, 0, NULL);
	json_t	   *funcs = json_object_get(doc, "functions");
	json_t	   *role = json_object_get(doc, "role");
	RpcMeta    *m = calloc(1, sizeof(*m));
	json_t	   *f;
	size_t		i;
	bool		ok = m != NULL && json_is_array(funcs) &&
		strlen(name) <= RPCARGS_NAME_MAX;

	if (ok)
	{
		strcpy(m->name, name);
		m->refs = 1;
		/* a role that does not exist is as unusable as one above the law */
		m->role_unsafe = !json_is_object(role) ||
			!json_is_false(json_object_get(role, "unsafe"));
		m->login_superuser = json_is_true(json_object_get(doc, "login_superuser"));
		m->funcs = calloc(json_array_size(funcs) + 1, sizeof(RpcFunc));
		ok = m->funcs != NULL;
	}
	if (ok)
	{
		json_array_foreach(funcs, i, f)
		{
			m->nfuncs++;
			if (!(ok = rpcmeta_parse_func(f, &m->funcs[i])))
				break;
		}
	}
	json_decref(doc);
	if (!ok)
	{
		if (m != NULL)
			rpcmeta_free(m);
		return NULL;
	}
	m->loaded_ms = (long long) timeutil_mono_ms();
	pthread_mutex_lock(&rpcmeta_lock);
	rpcmeta_unlink_locked(name, NULL);
	/*
	 * A name with no function is not kept: every name a caller may try
	 * would fill the table, and a function created later must be found.
	 */
	if (m->nfuncs > 0)
	{
		if (rpcmeta_count >= RPCMETA_MAX)
			rpcmeta_clear_locked();
		m->next = rpcmeta_table[rpcmeta_hash(name)];
		rpcmeta_table[rpcmeta_hash(name)] = m;
		rpcmeta_count++;
		m->refs++;				/* the caller's */
	}
	pthread_mutex_unlock(&rpcmeta_lock);
	return m;
}

void
rpcmeta_forget(const RpcMeta *m)
{
	pthread_mutex_lock(&rpcmeta_lock);
	rpcmeta_unlink_locked(m->name, m);
	pthread_mutex_unlock(&rpcmeta_lock);
}

void
rpcmeta_release(RpcMeta *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&rpcmeta_lock);
	rpcmeta_unref_locked(m);
	pthread_mutex_unlock(&rpcmeta_lock);
}

void
rpcmeta_clear(void)
{
	pthread_mutex_lock(&rpcmeta_lock);
	rpcmeta_clear_locked();
	pthread_mutex_unlock(&rpcmeta_lock);
}

const RpcParam *
rpcmeta_param(const RpcFunc *f, const char *name)
{
	int			i;

	for (i = 0; i < f->nparams; i++)
		if (f->params[i].name != NULL && strcmp(f->params[i].name, name) == 0)
			return &f->params[i];
	return NULL;
}

/*
 * Do the arguments fit f? If not and why is given, says which argument is
 * unknown or missing.
 */
static bool
rpcmeta_fits(const RpcFunc *f, const RpcArg *args, int nargs, char *why,
			 size_t whylen)
{
	int			i;
	int			k;

	for (k = 0; k < nargs; k++)
	{
		if (rpcmeta_param(f, args[k].name) == NULL)
		{
			if (why != NULL)
				snprintf(why, whylen, "unknown argument \"%s\"", args[k].name);
			return false;
		}
	}
	for (i = 0; i < f->nparams - f->ndefaults; i++)
	{
		for (k = 0; k < nargs; k++)
			if (f->params[i].name != NULL && strcmp(f->params[i].name, args[k].name) == 0)
				break;
		if (k == nargs)
		{
			if (why != NULL)
			{
				if (f->params[i].name != NULL)
					snprintf(why, whylen, "missing argument \"%s\"", f->params[i].name);
				else
					snprintf(why, whylen, "the function has an unnamed argument "
							 "without a default, which cannot be given by name");
			}
			return false;
		}
	}
	return true;
}

const RpcFunc *
rpcmeta_choose(const RpcMeta *m, const RpcArg *args, int nargs, char *why,
			   size_t whylen)
{
	const RpcFunc *found = NULL;
	int			nfound = 0;
	int			i;

	if (m->nfuncs == 1)
		return rpcmeta_fits(&m->funcs[0], args, nargs, why, whylen) ? &m->funcs[0] : NULL;
	for (i = 0; i < m->nfuncs; i++)
	{
		if (rpcmeta_fits(&m->funcs[i], args, nargs, NULL, 0))
		{
			found = &m->funcs[i];
			nfound++;
		}
	}
	if (nfound == 1)
		return found;
	if (nfound == 0)
		snprintf(why, whylen, "none of the %d functions of this name takes these arguments",
				 m->nfuncs);
	else
		snprintf(why, whylen, "%d functions of this name take these arguments: "
				 "name arguments that tell them apart", nfound);
	return NULL;
}
