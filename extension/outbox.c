/*
 * outbox.c
 *		warden.publish(): the transactional outbox's write side, its shared
 *		memory, and the registration of its background workers.
 *
 * publish() only validates and remembers the message in the calling
 * backend. Just before the transaction commits (XACT_EVENT_PRE_COMMIT,
 * after deferred triggers, when no more user code runs) the messages are
 * written to warden.outbox. First, for each distinct key (exchange, routing
 * key) of the transaction, in key order so that two committers never wait
 * on each other crosswise, an exclusive transaction-level lock is taken on
 * the key; then the rows are numbered from warden.outbox_id_seq and
 * inserted. Locks are released only after the commit is visible, so:
 *
 *	- per key, ids rise in the order in which transactions committed
 *	  (within a transaction, in the order it called publish()), and
 *	- once a row of a key is visible, no row of that key with a lower id can
 *	  become visible later.
 *
 * The workers can therefore deliver each key's rows in id order without
 * ever skipping a late committer, the outbox bug of relays that remember
 * "the last id sent". The lock is held only for the insert and the commit
 * itself; transactions publishing to different keys never wait for each
 * other, and a rollback (or a rolled-back savepoint) never writes anything.
 *
 * After the commit, the backend sets the latch of the workers serving its
 * keys, so delivery starts at once and idle workers sleep without polling.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/varlena.h"

#include "outbox.h"
#include "outbox_shared.h"
#include "warden.h"

/* Deeper headers are refused: AMQP tables nest, but no consumer wants this. */
#define HEADERS_MAX_DEPTH 16

OutboxShared *outbox_shared = NULL;

/* A message published by this transaction and not yet written. */
typedef struct PendingMessage
{
	int			level;			/* (sub)transaction nesting level of the call */
	pg_uuid_t	message_id;
	text	   *exchange;
	text	   *routing_key;
	uint64		key;
	Jsonb	   *payload;
	Jsonb	   *headers;
	TimestampTz published_at;
} PendingMessage;

/* In TopTransactionContext; forgotten at the end of every transaction. */
static List *pending_messages = NIL;
static Oid	pending_owner = InvalidOid;	/* warden's owner: writes the rows */
static uint64 wake_partitions = 0;	/* bit p: wake partition p after commit */
static bool callbacks_registered = false;
static SPIPlanPtr insert_plan = NULL;

/* ---------------------------------------------------------------- shmem */

static Size
outbox_shmem_size(void)
{
	return MAXALIGN(sizeof(OutboxShared));
}

void
warden_outbox_shmem_request(void)
{
	RequestAddinShmemSpace(outbox_shmem_size());
	RequestNamedLWLockTranche("warden outbox", 1);
}

/*
 * The databases warden.outbox_databases names, without duplicates, as a
 * List of palloc'd names. Raises on a malformed list (at server start).
 */
static List *
outbox_database_list(void)
{
	char	   *raw = pstrdup(warden_outbox_databases ? warden_outbox_databases : "");
	List	   *names = NIL;
	List	   *unique = NIL;
	ListCell   *lc;

	if (!SplitIdentifierString(raw, ',', &names))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"warden.outbox_databases\"")));
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		ListCell   *lc2;
		bool		seen = false;

		foreach(lc2, unique)
			seen = seen || strcmp(lfirst(lc2), name) == 0;
		if (!seen)
			unique = lappend(unique, name);
	}
	return unique;
}

/* Called with AddinShmemInitLock held. */
void
warden_outbox_shmem_startup(void)
{
	bool		found;

	outbox_shared = ShmemInitStruct("warden outbox", outbox_shmem_size(), &found);
	if (!found)
	{
		List	   *dbs = outbox_database_list();
		ListCell   *lc;
		int			i = 0;

		memset(outbox_shared, 0, outbox_shmem_size());
		outbox_shared->lock = &(GetNamedLWLockTranche("warden outbox"))->lock;
		foreach(lc, dbs)
		{
			int			p;

			for (p = 0; p < warden_outbox_workers && i < OUTBOX_MAX_WORKERS; p++, i++)
			{
				OutboxWorkerSlot *s = &outbox_shared->slots[i];

				s->registered = true;
				strlcpy(s->dbname, lfirst(lc), sizeof(s->dbname));
				s->partition = p;
				s->partitions = warden_outbox_workers;
				strlcpy(s->state, "starting", sizeof(s->state));
			}
		}
	}
}

/*
 * Registers warden.outbox_workers workers per database of
 * warden.outbox_databases. Static workers: the postmaster starts them once
 * recovery is over and restarts one a second after it dies.
 *
 * "Once recovery is over" is what keeps a hot standby quiet: its outbox is
 * a copy of the primary's, which the primary's workers deliver, so a
 * standby's workers must not run. The postmaster does not start them while
 * the server is in recovery (no process, no broker connection, nothing
 * logged, nothing to poll), and starts them the moment it is promoted.
 * warden.outbox_workers() reports them as 'standby' meanwhile.
 */
void
warden_outbox_register_workers(void)
{
	List	   *dbs = outbox_database_list();
	ListCell   *lc;
	int			i = 0;

	if (list_length(dbs) * warden_outbox_workers > OUTBOX_MAX_WORKERS)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("warden serves at most %d outbox workers in all", OUTBOX_MAX_WORKERS),
				 errdetail("warden.outbox_databases names %d databases and warden.outbox_workers is %d.",
						   list_length(dbs), warden_outbox_workers)));
	foreach(lc, dbs)
	{
		int			p;

		if (strlen(lfirst(lc)) >= BGW_EXTRALEN)
			ereport(FATAL,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("database name \"%s\" in warden.outbox_databases is too long",
							(char *) lfirst(lc))));
		for (p = 0; p < warden_outbox_workers; p++, i++)
		{
			BackgroundWorker w;

			memset(&w, 0, sizeof(w));
			w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
			w.bgw_start_time = BgWorkerStart_RecoveryFinished;
			w.bgw_restart_time = 1;
			snprintf(w.bgw_library_name, BGW_MAXLEN, "warden");
			snprintf(w.bgw_function_name, BGW_MAXLEN, "warden_outbox_worker_main");
			snprintf(w.bgw_name, BGW_MAXLEN, "warden outbox worker %d of %d for %s",
					 p + 1, warden_outbox_workers, (char *) lfirst(lc));
			snprintf(w.bgw_type, BGW_MAXLEN, "warden outbox worker");
			strlcpy(w.bgw_extra, lfirst(lc), BGW_EXTRALEN);
			w.bgw_main_arg = Int32GetDatum(i);
			RegisterBackgroundWorker(&w);
		}
	}
}

/* Wakes this database's workers of the partitions in the bit set. */
static void
outbox_wake(uint64 partitions)
{
	int			i;

	if (outbox_shared == NULL)
		return;
	LWLockAcquire(outbox_shared->lock, LW_SHARED);
	for (i = 0; i < OUTBOX_MAX_WORKERS; i++)
	{
		OutboxWorkerSlot *s = &outbox_shared->slots[i];

		if (s->registered && s->dboid == MyDatabaseId && s->latch != NULL &&
			(partitions & (UINT64CONST(1) << (s->partition % 64))) != 0)
			SetLatch(s->latch);
	}
	LWLockRelease(outbox_shared->lock);
}

/* ------------------------------------------------------------ publish */

/* Refuses headers that are not an object, or too deep, or with long keys. */
static void
outbox_check_headers(Jsonb *headers)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (!JB_ROOT_IS_OBJECT(headers) || JB_ROOT_IS_SCALAR(headers))
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_OUTBOX_MALFORMED),
				 errmsg("outbox headers must be a JSON object")));
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			if (++depth > HEADERS_MAX_DEPTH)
				ereport(ERROR,
						(errcode(ERRCODE_WARDEN_OUTBOX_MALFORMED),
						 errmsg("outbox headers nest deeper than %d levels", HEADERS_MAX_DEPTH)));
		}
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && v.val.string.len > OUTBOX_NAME_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_WARDEN_OUTBOX_MALFORMED),
					 errmsg("outbox header name is longer than %d bytes", OUTBOX_NAME_MAX)));
	}
}

static void outbox_xact_callback(XactEvent event, void *arg);
static void outbox_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									SubTransactionId parentSubid, void *arg);

static void
outbox_register_callbacks(void)
{
	if (!callbacks_registered)
	{
		RegisterXactCallback(outbox_xact_callback, NULL);
		RegisterSubXactCallback(outbox_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

PG_FUNCTION_INFO_V1(warden_publish);

/*
 * warden.publish(exchange text, routing_key text, payload jsonb,
 *				  headers jsonb default '{}', message_id uuid default
 *				  gen_random_uuid()) returns uuid
 *
 * Everything that could make the commit fail is checked here, so that a
 * bad message is an error at the call, not at COMMIT.
 */
Datum
warden_publish(PG_FUNCTION_ARGS)
{
	MemoryContext old;
	PendingMessage *m;
	text	   *exchange;
	text	   *routing_key;
	Jsonb	   *headers;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("exchange, routing_key, payload and message_id of an outbox message must not be null")));
	PreventCommandIfReadOnly("warden.publish()");
	PreventCommandDuringRecovery("warden.publish()");

	exchange = PG_GETARG_TEXT_PP(0);
	routing_key = PG_GETARG_TEXT_PP(1);
	if (!outbox_valid_exchange(VARDATA_ANY(exchange), VARSIZE_ANY_EXHDR(exchange)))
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_OUTBOX_MALFORMED),
				 errmsg("invalid exchange name"),
				 errdetail("An exchange name is at most %d bytes of letters, digits, '-', '_', '.' and ':'.",
						   OUTBOX_NAME_MAX)));
	if (VARSIZE_ANY_EXHDR(routing_key) > OUTBOX_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_WARDEN_OUTBOX_MALFORMED),
				 errmsg("routing key is longer than %d bytes", OUTBOX_NAME_MAX)));
	headers = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	if (headers != NULL)
		outbox_check_headers(headers);

	outbox_register_callbacks();

	old = MemoryContextSwitchTo(TopTransactionContext);
	m = palloc(sizeof(PendingMessage));
	m->level = GetCurrentTransactionNestLevel();
	memcpy(&m->message_id, PG_GETARG_UUID_P(4), sizeof(pg_uuid_t));
	m->exchange = (text *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	m->routing_key = (text *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(1));
	m->key = outbox_key_hash(VARDATA_ANY(exchange), VARSIZE_ANY_EXHDR(exchange),
							 VARDATA_ANY(routing_key), VARSIZE_ANY_EXHDR(routing_key));
	m->payload = (Jsonb *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(2));
	m->headers = headers != NULL ? (Jsonb *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(3)) : NULL;
	m->published_at = GetCurrentTimestamp();
	pending_messages = lappend(pending_messages, m);
	MemoryContextSwitchTo(old);

	/* publish() is SECURITY DEFINER: this is warden's owner, who writes the rows. */
	pending_owner = GetUserId();

	PG_RETURN_UUID_P(&m->message_id);
}

static int
key_cmp(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y;
}

static Datum
array_of(Datum *values, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(values, n, type, typlen, typbyval, typalign));
}

/* Writes the transaction's messages; see the file header. */
static void
outbox_flush(void)
{
	int			n = list_length(pending_messages);
	uint64	   *keys;
	int			nkeys = 0;
	Datum	   *cols[8];
	Datum		args[8];
	Oid			types[8] = {INT8ARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	INT8ARRAYOID, JSONBARRAYOID, JSONBARRAYOID, TIMESTAMPTZARRAYOID};
	static const Oid elem_types[8] = {INT8OID, UUIDOID, TEXTOID, TEXTOID,
	INT8OID, JSONBOID, JSONBOID, TIMESTAMPTZOID};
	Oid			namespace;
	Oid			seq;
	Oid			save_user;
	int			save_sec;
	ListCell   *lc;
	int			i;
	int			c;
	Jsonb	   *empty = NULL;

	if (n == 0)
		return;

	/* The key locks, in key order, each once. */
	keys = palloc(n * sizeof(uint64));
	foreach(lc, pending_messages)
		keys[nkeys++] = ((PendingMessage *) lfirst(lc))->key;
	qsort(keys, nkeys, sizeof(uint64), key_cmp);
	for (i = 0; i < nkeys; i++)
	{
		LOCKTAG		tag;

		if (i > 0 && keys[i] == keys[i - 1])
			continue;
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (keys[i] >> 32),
							 (uint32) keys[i], OUTBOX_LOCK_KEY);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		wake_partitions |= UINT64CONST(1) <<
			(outbox_partition(keys[i], warden_outbox_workers) % 64);
	}

	namespace = get_namespace_oid("warden", false);
	seq = get_relname_relid("outbox_id_seq", namespace);
	if (!OidIsValid(seq))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("warden's outbox is missing"),
				 errhint("Is the extension installed in this database?")));

	for (c = 0; c < 8; c++)
		cols[c] = palloc(n * sizeof(Datum));
	i = 0;
	foreach(lc, pending_messages)
	{
		PendingMessage *m = lfirst(lc);

		if (m->headers == NULL)
		{
			if (empty == NULL)
				empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
			m->headers = empty;
		}
		cols[0][i] = Int64GetDatum(nextval_internal(seq, false));
		cols[1][i] = UUIDPGetDatum(&m->message_id);
		cols[2][i] = PointerGetDatum(m->exchange);
		cols[3][i] = PointerGetDatum(m->routing_key);
		cols[4][i] = Int64GetDatum((int64) m->key);
		cols[5][i] = JsonbPGetDatum(m->payload);
		cols[6][i] = JsonbPGetDatum(m->headers);
		cols[7][i] = TimestampTzGetDatum(m->published_at);
		i++;
	}
	for (c = 0; c < 8; c++)
		args[c] = array_of(cols[c], n, elem_types[c]);

	/* The rows are warden's, written with its owner's rights, sandboxed. */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(pending_owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	if (insert_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(
			"INSERT INTO warden.outbox (id, message_id, exchange, routing_key, key_hash,"
			" payload, headers, published_at, committed_at)"
			" SELECT m.*, clock_timestamp()"
			" FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) AS m",
			8, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the outbox insert: %s",
				 SPI_result_code_string(SPI_result));
		insert_plan = plan;
	}
	if (SPI_execute_plan(insert_plan, args, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "could not write %d outbox messages", n);
	PopActiveSnapshot();
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
}

static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			outbox_flush();
			pending_messages = NIL;
			break;
		case XACT_EVENT_COMMIT:
			if (wake_partitions != 0)
				outbox_wake(wake_partitions);
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			pending_messages = NIL;
			wake_partitions = 0;
			break;
		default:
			break;
	}
}

/* A rolled-back savepoint takes its messages with it. */
static void
outbox_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (pending_messages == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_messages)
		{
			PendingMessage *m = lfirst(lc);

			if (m->level >= level)
				pending_messages = foreach_delete_current(pending_messages, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_messages)
		{
			PendingMessage *m = lfirst(lc);

			if (m->level >= level)
				m->level = level - 1;
		}
	}
}

/* ------------------------------------------------------- SQL: workers */

PG_FUNCTION_INFO_V1(warden_outbox_wake);

/*
 * warden._outbox_wake(): wakes every worker of this database when the
 * transaction commits (before that, they would find nothing new).
 */
Datum
warden_outbox_wake(PG_FUNCTION_ARGS)
{
	outbox_register_callbacks();
	wake_partitions = ~UINT64CONST(0);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(warden_outbox_worker_states);

/* warden.outbox_workers(): the slots of this database's workers. */
Datum
warden_outbox_worker_states(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *db = get_database_name(MyDatabaseId);
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (outbox_shared == NULL || db == NULL)
		return (Datum) 0;
	for (i = 0; i < OUTBOX_MAX_WORKERS; i++)
	{
		OutboxWorkerSlot s;
		Datum		values[11];
		bool		nulls[11] = {0};

		/* A copy, so that nothing is formatted under the lock. */
		LWLockAcquire(outbox_shared->lock, LW_SHARED);
		s = outbox_shared->slots[i];
		LWLockRelease(outbox_shared->lock);
		if (!s.registered || strcmp(s.dbname, db) != 0)
			continue;

		values[0] = Int32GetDatum(s.partition);
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(s.dbname));
		values[2] = Int32GetDatum(s.pid);
		nulls[2] = s.pid == 0;
		/* not started during recovery: see warden_outbox_register_workers */
		values[3] = CStringGetTextDatum(s.pid != 0 ? s.state :
										RecoveryInProgress() ? "standby" : "stopped");
		values[4] = BoolGetDatum(s.connected && s.pid != 0);
		values[5] = TimestampTzGetDatum(s.started_at);
		nulls[5] = s.started_at == 0;
		values[6] = Int64GetDatum((int64) s.delivered);
		values[7] = Int64GetDatum((int64) s.failed);
		values[8] = TimestampTzGetDatum(s.last_delivery_at);
		nulls[8] = s.last_delivery_at == 0;
		values[9] = CStringGetTextDatum(s.last_error);
		nulls[9] = s.last_error[0] == '\0';
		values[10] = TimestampTzGetDatum(s.last_error_at);
		nulls[10] = s.last_error_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
