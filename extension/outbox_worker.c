/*
 * outbox_worker.c
 *		The outbox's background workers: deliver the pending rows of
 *		warden.outbox to RabbitMQ, in order per key, at least once.
 *
 * warden.outbox_workers workers serve each database of
 * warden.outbox_databases; worker p serves the keys whose hash is p modulo
 * the number of workers, so a key's rows always pass through one worker, in
 * id order (commit order, see outbox.c), while the keys of other workers
 * flow independently. A session-level advisory lock on (database,
 * partition) keeps a second server process from serving the same keys.
 *
 * One round: read up to warden.outbox_batch_size pending rows of the
 * partition in id order, skipping keys whose oldest pending row is waiting
 * out a retry backoff; publish them on a confirm-mode channel; collect the
 * broker's answers; and write each row's fate (core/outbox.c) in one short
 * transaction: delivered, failed (attempt counted, backoff set, dead after
 * warden.outbox_max_attempts) or left pending to go again. No transaction is
 * open while the worker talks to the broker.
 *
 * A row is marked delivered only after the broker's ack, so a crash at any
 * point sends some rows again (same message_id) and loses none. A lost
 * broker is reconnected with backoff and costs no attempts. Idle workers
 * sleep on their latch, set by committing publishers, and on the broker
 * socket; they wake every IDLE_MS regardless, for commits that could not
 * wake them (COMMIT PREPARED) and for backoffs that end.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "amqp_link.h"
#include "outbox.h"
#include "outbox_shared.h"
#include "warden.h"

#define IDLE_MS 10000			/* the longest an idle worker sleeps */
#define CONNECT_TIMEOUT_MS 5000
#define RECONNECT_MIN_MS 200
#define RECONNECT_MAX_MS 5000
#define PURGE_EVERY_MS 10000	/* or the retention, when shorter (at least 1 s) */
#define PURGE_BATCH 1000
#define PURGE_BATCHES_MAX 20	/* per round, so purging never starves delivery */
#define BLOCKED_MAX 4096

PGDLLEXPORT void warden_outbox_worker_main(Datum arg);

static volatile sig_atomic_t stop_requested = false;
static OutboxWorkerSlot *slot = NULL;
static AmqpLink *broker = NULL;
static char *link_settings = NULL;	/* the settings the link was opened with */
static MemoryContext batch_cxt = NULL;
static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr delivered_plan = NULL;
static SPIPlanPtr failed_plan = NULL;
static SPIPlanPtr purge_plan = NULL;
static char logged_error[OUTBOX_ERROR_MAX];

/* Keys waiting out a backoff, excluded from the next fetches. */
typedef struct BlockedKey
{
	int64		key;
	TimestampTz until;
} BlockedKey;

static BlockedKey blocked[BLOCKED_MAX];
static int	nblocked = 0;

/* A fetched row. */
typedef struct OutboxRow
{
	int64		id;
	char	   *message_id;
	int64		key;
	int			attempts;
} OutboxRow;

static void
handle_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	stop_requested = true;
	amqp_link_interrupt();
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
set_state(const char *state)
{
	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	strlcpy(slot->state, state, sizeof(slot->state));
	slot->connected = broker != NULL;
	LWLockRelease(outbox_shared->lock);
}

/*
 * Records an error for warden.outbox_workers(); logs it when it differs
 * from the last one logged, so an outage is one line, not one per retry.
 */
static void
note_error(const char *msg)
{
	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	strlcpy(slot->last_error, msg, sizeof(slot->last_error));
	slot->last_error_at = GetCurrentTimestamp();
	slot->connected = broker != NULL;
	LWLockRelease(outbox_shared->lock);
	if (strcmp(msg, logged_error) != 0)
	{
		ereport(LOG, (errmsg("warden outbox worker %d: %s", slot->partition + 1, msg)));
		strlcpy(logged_error, msg, sizeof(logged_error));
	}
}

static void
close_link(void)
{
	amqp_link_close(broker);
	broker = NULL;
}

static void
worker_exit(int code, Datum arg)
{
	close_link();
	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	slot->pid = 0;
	slot->latch = NULL;
	slot->connected = false;
	strlcpy(slot->state, "stopped", sizeof(slot->state));
	LWLockRelease(outbox_shared->lock);
}

static void
forget_plans(void)
{
	SPIPlanPtr *plans[] = {&fetch_plan, &delivered_plan, &failed_plan, &purge_plan};
	int			i;

	for (i = 0; i < (int) lengthof(plans); i++)
	{
		if (*plans[i] != NULL)
			SPI_freeplan(*plans[i]);
		*plans[i] = NULL;
	}
}

static SPIPlanPtr
prepare(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		*plan = p;
	}
	return *plan;
}

static void
begin_tx(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
commit_tx(void)
{
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Is warden installed here, and is this worker's partition ours? Takes the
 * partition's session lock the first time the answer is yes.
 */
static bool
ready(void)
{
	static bool locked = false;
	bool		installed;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("warden", true));
	if (installed && !locked)
	{
		LOCKTAG		tag;

		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) slot->partition,
							 (uint32) slot->partitions, OUTBOX_LOCK_PARTITION);
		locked = LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
	}
	CommitTransactionCommand();
	if (!installed)
		set_state("waiting for CREATE EXTENSION");
	else if (!locked)
		set_state("standby: partition served elsewhere");
	return installed && locked;
}

/* ---------------------------------------------------- headers to AMQP */

static void jsonb_to_field(JsonbIterator **it, JsonbIteratorToken tok,
						   JsonbValue *v, amqp_field_value_t *out);

static amqp_bytes_t
pg_bytes(const char *s, int len)
{
	amqp_bytes_t b;

	b.bytes = (void *) s;
	b.len = len;
	return b;
}

static void
scalar_to_field(JsonbValue *v, amqp_field_value_t *out)
{
	switch (v->type)
	{
		case jbvString:
			out->kind = AMQP_FIELD_KIND_UTF8;
			out->value.bytes = pg_bytes(pnstrdup(v->val.string.val, v->val.string.len),
										v->val.string.len);
			break;
		case jbvBool:
			out->kind = AMQP_FIELD_KIND_BOOLEAN;
			out->value.boolean = v->val.boolean;
			break;
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out,
																	NumericGetDatum(v->val.numeric)));
				char	   *end;
				long long	i;

				/* Whole numbers in range stay integers; the rest are doubles. */
				errno = 0;
				i = strtoll(s, &end, 10);
				if (*end == '\0' && errno == 0)
				{
					out->kind = AMQP_FIELD_KIND_I64;
					out->value.i64 = i;
				}
				else
				{
					out->kind = AMQP_FIELD_KIND_F64;
					out->value.f64 = strtod(s, NULL);
				}
				break;
			}
		default:
			out->kind = AMQP_FIELD_KIND_VOID;
			break;
	}
}

/* Reads one container (its BEGIN token already read) into a table or array. */
static void
jsonb_to_field(JsonbIterator **it, JsonbIteratorToken tok, JsonbValue *v,
			   amqp_field_value_t *out)
{
	bool		object = tok == WJB_BEGIN_OBJECT;
	int			cap = 8;
	int			n = 0;
	amqp_table_entry_t *entries = object ? palloc(cap * sizeof(amqp_table_entry_t)) : NULL;
	amqp_field_value_t *elems = object ? NULL : palloc(cap * sizeof(amqp_field_value_t));

	for (;;)
	{
		amqp_field_value_t *slotp;
		amqp_bytes_t key = {0};

		tok = JsonbIteratorNext(it, v, false);
		if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			break;
		if (tok == WJB_KEY)
		{
			key = pg_bytes(pnstrdup(v->val.string.val, v->val.string.len),
						   v->val.string.len);
			tok = JsonbIteratorNext(it, v, false);
		}
		if (n == cap)
		{
			cap *= 2;
			if (object)
				entries = repalloc(entries, cap * sizeof(amqp_table_entry_t));
			else
				elems = repalloc(elems, cap * sizeof(amqp_field_value_t));
		}
		if (object)
		{
			entries[n].key = key;
			slotp = &entries[n].value;
		}
		else
			slotp = &elems[n];
		n++;
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			jsonb_to_field(it, tok, v, slotp);
		else
			scalar_to_field(v, slotp);
	}
	if (object)
	{
		out->kind = AMQP_FIELD_KIND_TABLE;
		out->value.table.num_entries = n;
		out->value.table.entries = entries;
	}
	else
	{
		out->kind = AMQP_FIELD_KIND_ARRAY;
		out->value.array.num_entries = n;
		out->value.array.entries = elems;
	}
}

static amqp_table_t
headers_table(Jsonb *headers)
{
	JsonbIterator *it = JsonbIteratorInit(&headers->root);
	JsonbValue	v;
	JsonbIteratorToken tok = JsonbIteratorNext(&it, &v, false);
	amqp_field_value_t f;

	if (tok != WJB_BEGIN_OBJECT)
		return amqp_empty_table;	/* publish() accepts objects only */
	jsonb_to_field(&it, tok, &v, &f);
	return f.value.table;
}

/* ------------------------------------------------------------ a round */

static bool
is_blocked(int64 key)
{
	int			i;

	for (i = 0; i < nblocked; i++)
		if (blocked[i].key == key)
			return true;
	return false;
}

static void
block_key(int64 key, TimestampTz until)
{
	if (nblocked < BLOCKED_MAX && !is_blocked(key))
	{
		blocked[nblocked].key = key;
		blocked[nblocked].until = until;
		nblocked++;
	}
}

/* Drops ended backoffs; returns ms until the next one ends, or IDLE_MS. */
static long
prune_blocked(TimestampTz now)
{
	long		wait = IDLE_MS;
	int			i = 0;

	while (i < nblocked)
	{
		if (blocked[i].until <= now)
			blocked[i] = blocked[--nblocked];
		else
		{
			long		ms = (long) ((blocked[i].until - now) / 1000) + 1;

			wait = Min(wait, ms);
			i++;
		}
	}
	return wait;
}

/*
 * One round. Returns true when it delivered or settled something, so the
 * caller goes straight on; otherwise *wait_ms says how long to sleep.
 */
static bool
outbox_round(long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	Datum		args[4];
	Oid			fetch_types[4] = {INT8OID, INT8OID, INT8ARRAYOID, INT4OID};
	Datum	   *keys;
	int			n = 0;
	int			i;
	OutboxRow  *rows;
	AmqpMessage *msgs;
	uint64	   *bkeys;
	const char **ids;
	OutboxBatch b;
	OutboxFate *fate;
	AmqpLinkStatus st;
	char		err[OUTBOX_ERROR_MAX] = "";
	int64		delivered = 0;
	int64		failed = 0;
	Datum	   *delivered_ids;
	TimestampTz acked_at;
	MemoryContext old;

	*wait_ms = prune_blocked(now);
	MemoryContextReset(batch_cxt);
	old = MemoryContextSwitchTo(batch_cxt);

	/* Read the batch. */
	keys = palloc(Max(nblocked, 1) * sizeof(Datum));
	for (i = 0; i < nblocked; i++)
		keys[i] = Int64GetDatum(blocked[i].key);
	args[0] = Int64GetDatum(slot->partitions);
	args[1] = Int64GetDatum(slot->partition);
	args[2] = PointerGetDatum(construct_array(keys, nblocked, INT8OID, 8, true, TYPALIGN_DOUBLE));
	args[3] = Int32GetDatum(warden_outbox_batch_size);

	begin_tx("warden outbox: reading pending messages");
	prepare(&fetch_plan,
			"SELECT id, message_id::text, exchange, routing_key, key_hash, payload::text,"
			" headers, floor(extract(epoch FROM published_at))::bigint, attempts,"
			" next_attempt_at"
			" FROM warden.outbox"
			" WHERE state = 'pending' AND key_hash % $1 = $2 AND key_hash <> ALL ($3)"
			" ORDER BY id LIMIT $4",
			4, fetch_types);
	if (SPI_execute_plan(fetch_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the outbox");
	MemoryContextSwitchTo(batch_cxt);	/* what is kept outlives SPI */

	rows = palloc(Max(SPI_processed, 1) * sizeof(OutboxRow));
	msgs = palloc0(Max(SPI_processed, 1) * sizeof(AmqpMessage));
	for (i = 0; i < (int) SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		key = DatumGetInt64(SPI_getbinval(t, d, 5, &isnull));
		Datum		next = SPI_getbinval(t, d, 10, &isnull);
		text	   *body;

		if (!isnull && DatumGetTimestampTz(next) > now)
			block_key(key, DatumGetTimestampTz(next));	/* its head waits */
		if (is_blocked(key))
			continue;
		rows[n].id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		rows[n].message_id = SPI_getvalue(t, d, 2);
		rows[n].key = key;
		rows[n].attempts = DatumGetInt32(SPI_getbinval(t, d, 9, &isnull));
		msgs[n].message_id = rows[n].message_id;
		msgs[n].exchange = SPI_getvalue(t, d, 3);
		msgs[n].routing_key = SPI_getvalue(t, d, 4);
		body = DatumGetTextPP(SPI_getbinval(t, d, 6, &isnull));
		msgs[n].body = VARDATA_ANY(body);
		msgs[n].body_len = VARSIZE_ANY_EXHDR(body);
		msgs[n].headers = headers_table(DatumGetJsonbP(SPI_getbinval(t, d, 7, &isnull)));
		msgs[n].timestamp = DatumGetInt64(SPI_getbinval(t, d, 8, &isnull));
		n++;
	}
	/* The tuples live in SPI's memory: copy the rows out before finishing. */
	for (i = 0; i < n; i++)
	{
		AmqpMessage *m = &msgs[i];
		char	   *body = palloc(m->body_len + 1);

		memcpy(body, m->body, m->body_len);
		m->body = body;
	}
	commit_tx();
	MemoryContextSwitchTo(batch_cxt);

	if (n == 0)
	{
		*wait_ms = prune_blocked(GetCurrentTimestamp());
		MemoryContextSwitchTo(old);
		return false;
	}

	/*
	 * A publisher may have committed with synchronous_commit off: its rows
	 * are visible before its commit is on disk. Flushing the WAL up to now
	 * first means no message goes out whose transaction a crash could
	 * still undo. Usually everything is flushed already and this returns
	 * at once.
	 */
	XLogFlush(GetXLogInsertRecPtr());

	/* Publish it. */
	bkeys = palloc(n * sizeof(uint64));
	ids = palloc(n * sizeof(char *));
	for (i = 0; i < n; i++)
	{
		bkeys[i] = (uint64) rows[i].key;
		ids[i] = rows[i].message_id;
	}
	memset(&b, 0, sizeof(b));
	b.n = n;
	b.key = bkeys;
	b.message_id = ids;
	b.tag = palloc0(n * sizeof(uint64));
	b.answer = palloc0(n * sizeof(OutboxAnswer));
	fate = palloc(n * sizeof(OutboxFate));

	set_state("publishing");
	st = amqp_link_publish(broker, msgs, &b, warden_outbox_confirm_timeout,
						   &stop_requested, err, sizeof(err));
	acked_at = GetCurrentTimestamp();
	outbox_settle(&b, fate);

	/* Write each row's fate. */
	delivered_ids = palloc(n * sizeof(Datum));
	for (i = 0; i < n; i++)
		if (fate[i] == OUTBOX_DELIVERED)
			delivered_ids[delivered++] = Int64GetDatum(rows[i].id);

	begin_tx("warden outbox: recording deliveries");
	if (delivered > 0)
	{
		Oid			types[2] = {INT8ARRAYOID, TIMESTAMPTZOID};
		Datum		dargs[2];

		dargs[0] = PointerGetDatum(construct_array(delivered_ids, (int) delivered, INT8OID,
												   8, true, TYPALIGN_DOUBLE));
		dargs[1] = TimestampTzGetDatum(acked_at);
		prepare(&delivered_plan,
				"UPDATE warden.outbox SET state = 'delivered', delivered_at = $2,"
				" attempts = attempts + 1, next_attempt_at = NULL"
				" WHERE id = ANY ($1) AND state = 'pending'",
				2, types);
		if (SPI_execute_plan(delivered_plan, dargs, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not mark outbox messages delivered");
	}
	for (i = 0; i < n; i++)
	{
		Oid			types[4] = {INT8OID, TEXTOID, TIMESTAMPTZOID, INT4OID};
		Datum		fargs[4];
		int64		backoff;
		TimestampTz until;
		bool		isnull;
		bool		dead;

		if (fate[i] != OUTBOX_FAILED)
			continue;
		backoff = outbox_backoff_ms(rows[i].attempts + 1, warden_outbox_retry_min,
									warden_outbox_retry_max,
									pg_prng_uint32(&pg_global_prng_state));
		until = acked_at + backoff * 1000;
		fargs[0] = Int64GetDatum(rows[i].id);
		fargs[1] = CStringGetTextDatum(msgs[i].error ? msgs[i].error : "failed");
		fargs[2] = TimestampTzGetDatum(until);
		fargs[3] = Int32GetDatum(warden_outbox_max_attempts);
		prepare(&failed_plan,
				"UPDATE warden.outbox SET attempts = attempts + 1, last_error = $2,"
				" state = CASE WHEN attempts + 1 >= $4 THEN 'dead' ELSE 'pending' END,"
				" next_attempt_at = CASE WHEN attempts + 1 >= $4 THEN clock_timestamp() ELSE $3 END"
				" WHERE id = $1 AND state = 'pending' RETURNING state = 'dead'",
				4, types);
		if (SPI_execute_plan(failed_plan, fargs, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not record an outbox failure");
		failed++;
		dead = SPI_processed == 1 &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (dead)
			ereport(LOG,
					(errmsg("warden outbox: message %s to exchange \"%s\" is dead after %d attempts: %s",
							rows[i].message_id, msgs[i].exchange, rows[i].attempts + 1,
							msgs[i].error ? msgs[i].error : "failed")));
		else
			block_key(rows[i].key, until);
	}
	commit_tx();
	MemoryContextSwitchTo(old);

	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	slot->delivered += delivered;
	slot->failed += failed;
	if (delivered > 0)
		slot->last_delivery_at = acked_at;
	LWLockRelease(outbox_shared->lock);

	switch (st)
	{
		case AMQP_LINK_OK:
		case AMQP_LINK_STOPPED:
			break;
		case AMQP_LINK_CHANNEL_LOST:
			note_error(err);
			break;
		case AMQP_LINK_BLOCKED:
			note_error(err);
			*wait_ms = 1000;
			return false;
		case AMQP_LINK_DOWN:
			close_link();
			note_error(err);
			*wait_ms = 0;
			return false;
	}
	return delivered > 0 || failed > 0 || st == AMQP_LINK_OK;
}

/* Deletes delivered rows older than warden.outbox_retention, in small batches. */
static void
outbox_purge(void)
{
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(warden_outbox_retention)};
	int			round;

	for (round = 0; round < PURGE_BATCHES_MAX && !stop_requested; round++)
	{
		uint64		purged;

		begin_tx("warden outbox: purging delivered messages");
		prepare(&purge_plan,
				"DELETE FROM warden.outbox WHERE id IN ("
				" SELECT id FROM warden.outbox WHERE state = 'delivered'"
				" AND delivered_at < clock_timestamp() - make_interval(secs => $1)"
				" ORDER BY delivered_at LIMIT " CppAsString2(PURGE_BATCH)
				" FOR UPDATE SKIP LOCKED)",
				1, types);
		if (SPI_execute_plan(purge_plan, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not purge the outbox");
		purged = SPI_processed;
		commit_tx();
		if (purged < PURGE_BATCH)
			break;
	}
}

/* The settings the link depends on; a change reconnects. */
static char *
current_link_settings(void)
{
	return psprintf("%s|%s|%s|%s|%s", warden_amqp_url, warden_amqp_ca_file,
					warden_amqp_cert_file, warden_amqp_key_file,
					warden_amqp_password_file);
}

void
warden_outbox_worker_main(Datum arg)
{
	int			index = DatumGetInt32(arg);

	/* volatile: changed inside PG_TRY and read after an error */
	volatile int reconnects = 0;
	volatile TimestampTz reconnect_at = 0;
	volatile TimestampTz purge_at = 0;
	volatile bool is_ready = false;

	pqsignal(SIGTERM, handle_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	if (outbox_shared == NULL || index < 0 || index >= OUTBOX_MAX_WORKERS)
		elog(FATAL, "warden outbox worker started without its shared memory");
	slot = &outbox_shared->slots[index];
	BackgroundWorkerInitializeConnection(MyBgworkerEntry->bgw_extra, NULL, 0);
	pgstat_report_appname("warden outbox worker");

	/*
	 * A worker's own commits need not wait for the disk: if a crash loses
	 * the mark of a delivered row, the row is sent again (at least once, as
	 * promised); nothing a worker writes can lose a message.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	batch_cxt = AllocSetContextCreate(TopMemoryContext, "warden outbox batch",
									  ALLOCSET_DEFAULT_SIZES);
	LWLockAcquire(outbox_shared->lock, LW_EXCLUSIVE);
	slot->dboid = MyDatabaseId;
	slot->pid = MyProcPid;
	slot->latch = MyLatch;
	slot->started_at = GetCurrentTimestamp();
	slot->connected = false;
	strlcpy(slot->state, "starting", sizeof(slot->state));
	LWLockRelease(outbox_shared->lock);
	before_shmem_exit(worker_exit, 0);

	while (!stop_requested)
	{
		volatile long wait_ms = IDLE_MS;
		volatile bool busy = false;
		int			sock;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			char	   *settings;

			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			settings = current_link_settings();
			if (link_settings != NULL && strcmp(settings, link_settings) != 0)
			{
				/*
				 * Reconnect with the new settings, at once: a worker backing
				 * off from the old ones (a wrong CA, a wrong URL) would
				 * otherwise sit out its wait before trying the fixed ones.
				 */
				close_link();
				reconnects = 0;
				reconnect_at = 0;
			}
			pfree(settings);
		}

		PG_TRY();
		{
			TimestampTz now = GetCurrentTimestamp();

			if (!is_ready && !(is_ready = ready()))
				wait_ms = IDLE_MS;
			else if (warden_amqp_url == NULL || warden_amqp_url[0] == '\0')
			{
				close_link();
				set_state("idle: warden.amqp_url is not set");
			}
			else
			{
				if (slot->partition == 0 && now >= purge_at)
				{
					outbox_purge();
					purge_at = now + Max(1000, Min((int64) PURGE_EVERY_MS,
												   (int64) warden_outbox_retention * 1000)) * 1000;
				}
				if (broker == NULL && now >= reconnect_at)
				{
					char		err[OUTBOX_ERROR_MAX];

					set_state("connecting");
					if (link_settings != NULL)
						pfree(link_settings);
					link_settings = current_link_settings();
					broker = amqp_link_open(warden_amqp_url, warden_amqp_ca_file,
										  warden_amqp_cert_file, warden_amqp_key_file,
										  warden_amqp_password_file,
										  CONNECT_TIMEOUT_MS, err, sizeof(err));
					if (broker == NULL)
					{
						reconnects++;
						reconnect_at = now + outbox_backoff_ms(reconnects, RECONNECT_MIN_MS,
															   RECONNECT_MAX_MS,
															   pg_prng_uint32(&pg_global_prng_state)) * 1000;
						note_error(err);
					}
					else
					{
						if (reconnects > 0 || logged_error[0] != '\0')
							ereport(LOG,
									(errmsg("warden outbox worker %d: connected to the broker",
											slot->partition + 1)));
						reconnects = 0;
						logged_error[0] = '\0';
					}
				}
				if (broker == NULL)
					wait_ms = Max(1, (long) ((reconnect_at - now) / 1000));
				else
				{
					long		ms = IDLE_MS;

					busy = outbox_round(&ms);
					wait_ms = ms;
					if (broker == NULL)
						reconnect_at = GetCurrentTimestamp();	/* at once, then back off */
					else if (!busy)
						set_state("idle");
				}
				if (slot->partition == 0)
					wait_ms = Min(wait_ms, Max(1, (long) ((purge_at - GetCurrentTimestamp()) / 1000)));
			}
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/* A failed statement (DROP EXTENSION, a lost lock): start over. */
			MemoryContextSwitchTo(TopMemoryContext);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			pgstat_report_activity(STATE_IDLE, NULL);
			forget_plans();
			is_ready = false;
			note_error(edata->message);
			FreeErrorData(edata);
			wait_ms = 1000;
			busy = false;
		}
		PG_END_TRY();

		if (busy || stop_requested)
			continue;
		sock = amqp_link_socket(broker);
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
							   (sock >= 0 ? WL_SOCKET_READABLE : 0),
							   sock, Max(wait_ms, 0), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if ((rc & WL_SOCKET_READABLE) && broker != NULL)
		{
			char		err[OUTBOX_ERROR_MAX];

			if (!amqp_link_service(broker, err, sizeof(err)))
			{
				close_link();
				note_error(err);
				reconnect_at = GetCurrentTimestamp();
			}
		}
	}
	proc_exit(1);				/* 1: restarted unless the server is stopping */
}
