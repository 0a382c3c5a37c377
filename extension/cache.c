/*
 * cache.c
 *		Invalidation of warden's per-backend caches, carried by PostgreSQL's
 *		own relcache invalidation messages.
 *
 * A backend caches what it reads on every call (signing keys, revoked
 * tokens) and must drop it the moment a change commits anywhere. A function
 * that changes one of the watched tables calls warden_cache_changed(), which
 * queues a relcache invalidation for that table: PostgreSQL delivers it to
 * every backend when the transaction commits, and to the changing backend
 * itself at its next command, so a change made earlier in a transaction is
 * seen later in it, and an aborted change is never announced. One relcache
 * callback (PostgreSQL allows only a few per backend) serves every cache; it
 * only clears flags, since it may run in the middle of any operation.
 *
 * Caches load with a fresh snapshot (SPI read_only = false), so rows the
 * current transaction wrote a moment ago are in them.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "warden.h"

#define MAX_WATCHED 16

typedef struct WatchedCache
{
	char		relname[NAMEDATALEN];
	Oid			relid;
	bool	   *valid;
} WatchedCache;

static WatchedCache watched[MAX_WATCHED];
static int	nwatched = 0;
static bool callback_registered = false;

static Oid
warden_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid("warden", true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

static void
cache_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < nwatched; i++)
		if (!OidIsValid(relid) || relid == watched[i].relid ||
			!OidIsValid(watched[i].relid))
			*watched[i].valid = false;
}

/*
 * Called by a cache as it loads: from now on a change of warden.<relname>
 * clears *valid. The table's oid is looked up again on every load, since
 * the extension may have been dropped and created again.
 */
void
warden_cache_watch(const char *relname, bool *valid)
{
	int			i;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(cache_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	for (i = 0; i < nwatched; i++)
		if (watched[i].valid == valid &&
			strcmp(watched[i].relname, relname) == 0)
			break;
	if (i == nwatched)
	{
		if (nwatched == MAX_WATCHED)
			elog(ERROR, "too many warden caches");
		strlcpy(watched[i].relname, relname, NAMEDATALEN);
		watched[i].valid = valid;
		nwatched++;
	}
	watched[i].relid = warden_relid(relname);
}

PG_FUNCTION_INFO_V1(warden_cache_invalidate);

/* Statement trigger: announces, at commit, that the table changed. */
Datum
warden_cache_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "warden._cache_invalidate() must be called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * The common shape of warden's per-backend caches: a hash table in a memory
 * context of its own, emptied and made anew whenever one of the watched
 * warden tables changes. Returns the new, empty table; *valid is set and
 * will be cleared by the next change of any of the tables.
 */
HTAB *
warden_cache_table(const char *name, MemoryContext *cxt,
				   const char *const *tables, int ntables, bool *valid,
				   Size keysize, Size entrysize, long nelem, int hash_flags)
{
	HASHCTL		ctl;
	int			i;

	if (*cxt == NULL)
	{
		/* name is a string literal of the caller's, so it outlives this */
		*cxt = AllocSetContextCreate(TopMemoryContext, "warden cache",
									 ALLOCSET_DEFAULT_SIZES);
		MemoryContextSetIdentifier(*cxt, name);
	}
	else
		MemoryContextReset(*cxt);
	for (i = 0; i < ntables; i++)
		warden_cache_watch(tables[i], valid);
	*valid = true;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = *cxt;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_CONTEXT | hash_flags);
}
