/*
 * failures.c
 *		Authentication failures whose consequences must outlive the
 *		transaction that reports them: failed logins (lockout counting and
 *		their audit rows) and refresh-token reuse (revocation of the whole
 *		token family).
 *
 * warden.login() and warden.refresh() report a failure by raising an error,
 * which rolls back everything their transaction wrote, so neither a failure
 * count, nor an audit row, nor a family's revocation can be an ordinary row
 * written there. Instead:
 *
 *	- Counts and locks live in shared memory, changed under one LWLock, so
 *	  parallel attempts on one account are counted exactly and a lock
 *	  applies to every backend at once.
 *	- Each failure is also queued in shared memory; a short-lived background
 *	  worker for the failing database ("warden failure writer"), started on
 *	  demand, writes the queued events to warden.audit_log, the counts and
 *	  lock times to warden.principals, and a reused family's revocation to
 *	  warden.refresh_tokens and warden.revoked_tokens, then exits. Lock times
 *	  thus survive a restart (login reads principals.locked_until too), and
 *	  until the writer commits, refresh() sees a queued family revocation
 *	  through warden._family_revoked().
 *	- The same queue carries the audit events of hot paths (a token issued
 *	  for an API key), so that those calls write nothing themselves.
 *
 * Locking: FailureShared->lock (the tranche "warden") guards every field of
 * FailureShared. Nothing under it calls out or raises errors.
 *
 * If the queue is full, the event is written to the server log instead (at
 * LOG, without secrets), so it is never silently lost.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/wait_event.h"

#include "warden.h"

#define FAILURE_ACCOUNTS 4096
#define FAILURE_EVENTS 1024
#define FAILURE_WRITERS 8
#define PRINCIPAL_NAME_MAX 256
#define WRITER_POLL_MS 20		/* how often an idle writer looks again */
#define WRITER_LINGER_POLLS 50	/* for a second, then it exits */
#define REASON_MAX 32

typedef struct FailureAccount
{
	Oid			dboid;			/* InvalidOid: free slot */
	int64		principal_id;
	int			failures;
	TimestampTz last_failure;
	TimestampTz locked_until;
} FailureAccount;

typedef enum FailureKind
{
	FAILURE_LOGIN,
	FAILURE_AUDIT,				/* an audit event of a hot path */
	FAILURE_REFRESH_REUSE
} FailureKind;

typedef struct FailureEvent
{
	bool		in_use;
	bool		claimed;		/* being written by a writer */
	FailureKind kind;
	Oid			dboid;
	pg_uuid_t	family;			/* FAILURE_REFRESH_REUSE */
	char		prefix[16];		/* FAILURE_AUDIT: the API key's prefix */
	int64		principal_id;	/* 0: no such principal */
	char		principal[PRINCIPAL_NAME_MAX + 1];
	char		reason[REASON_MAX];
	TimestampTz at;
	int			failures;
	TimestampTz locked_until;	/* 0 unless this failure locked the account */
} FailureEvent;

typedef struct FailureShared
{
	LWLock	   *lock;
	Oid			writers[FAILURE_WRITERS];	/* databases with a writer running */
	FailureAccount accounts[FAILURE_ACCOUNTS];
	FailureEvent events[FAILURE_EVENTS];
} FailureShared;

static FailureShared *failure_shared = NULL;

PGDLLEXPORT void warden_failure_writer_main(Datum arg);

Size
warden_failures_shmem_size(void)
{
	return MAXALIGN(sizeof(FailureShared));
}

void
warden_failures_shmem_request(void)
{
	RequestAddinShmemSpace(warden_failures_shmem_size());
	RequestNamedLWLockTranche("warden", 1);
}

/* Called with AddinShmemInitLock held. */
void
warden_failures_shmem_startup(void)
{
	bool		found;

	failure_shared = ShmemInitStruct("warden failures",
									 warden_failures_shmem_size(), &found);
	if (!found)
	{
		memset(failure_shared, 0, warden_failures_shmem_size());
		failure_shared->lock = &(GetNamedLWLockTranche("warden"))->lock;
	}
}

static void
failures_check_shmem(void)
{
	if (failure_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("warden's shared memory is not initialised"),
				 errhint("warden must be loaded via shared_preload_libraries.")));
}

/*
 * The account's slot, or NULL. With create, takes a free slot or one whose
 * failures are older than the lockout duration and not locked; when every
 * slot is busy the account goes untracked (a flood of distinct accounts must
 * not lock out others). Caller holds the lock exclusively when creating.
 */
static FailureAccount *
failures_account(int64 principal_id, bool create, TimestampTz now)
{
	FailureAccount *reuse = NULL;
	int			i;
	TimestampTz stale = now - (int64) warden_lockout_duration * USECS_PER_SEC;

	for (i = 0; i < FAILURE_ACCOUNTS; i++)
	{
		FailureAccount *a = &failure_shared->accounts[i];

		if (a->dboid == MyDatabaseId && a->principal_id == principal_id)
			return a;
		if (create && reuse == NULL &&
			(a->dboid == InvalidOid ||
			 (a->last_failure < stale && a->locked_until < now)))
			reuse = a;
	}
	if (reuse != NULL)
	{
		memset(reuse, 0, sizeof(*reuse));
		reuse->dboid = MyDatabaseId;
		reuse->principal_id = principal_id;
	}
	return reuse;
}

/*
 * Takes a free queue slot for an event of this database, or returns NULL
 * when the queue is full. Caller holds the lock exclusively.
 */
static FailureEvent *
failures_queue(FailureKind kind, int64 principal_id, const char *principal,
			   const char *reason, TimestampTz now)
{
	int			i;

	for (i = 0; i < FAILURE_EVENTS; i++)
	{
		FailureEvent *e = &failure_shared->events[i];

		if (e->in_use)
			continue;
		memset(e, 0, sizeof(*e));
		e->in_use = true;
		e->kind = kind;
		e->dboid = MyDatabaseId;
		e->principal_id = principal_id;
		strlcpy(e->principal, principal, sizeof(e->principal));
		strlcpy(e->reason, reason, sizeof(e->reason));
		e->at = now;
		return e;
	}
	return NULL;
}

/* Starts a writer for this database unless one runs. Never raises. */
static void
failures_start_writer(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	int			i;
	int			free_slot = -1;

	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < FAILURE_WRITERS; i++)
	{
		if (failure_shared->writers[i] == MyDatabaseId)
		{
			LWLockRelease(failure_shared->lock);
			return;
		}
		if (failure_shared->writers[i] == InvalidOid && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
	{
		LWLockRelease(failure_shared->lock);
		return;					/* a finishing writer will look again */
	}
	failure_shared->writers[free_slot] = MyDatabaseId;
	LWLockRelease(failure_shared->lock);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "warden");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "warden_failure_writer_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "warden failure writer");
	snprintf(worker.bgw_type, BGW_MAXLEN, "warden failure writer");
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	worker.bgw_notify_pid = 0;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		/* no worker slot now: the next failure, or login, tries again */
		LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
		failure_shared->writers[free_slot] = InvalidOid;
		LWLockRelease(failure_shared->lock);
	}
}

PG_FUNCTION_INFO_V1(warden_login_failed);

/*
 * warden._login_failed(principal_id bigint, principal text, reason text,
 *						count boolean) returns timestamptz
 *
 * Queues the audit event of a failed login (principal_id NULL for an unknown
 * name) and, with count, counts it towards a lock; returns the time the
 * account is now locked until, or NULL.
 */
Datum
warden_login_failed(PG_FUNCTION_ARGS)
{
	TimestampTz locked_until;

	locked_until = warden_login_failure(PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0),
										PG_ARGISNULL(1) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(1)),
										PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2)),
										PG_ARGISNULL(3) || PG_GETARG_BOOL(3));
	if (locked_until == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(locked_until);
}

/*
 * The C side of warden._login_failed(): counts (with count) and queues a
 * failed authentication; returns the end of the lock it caused, or 0.
 */
TimestampTz
warden_login_failure(int64 principal_id, const char *principal,
					 const char *reason, bool count)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz locked_until = 0;
	int			failures = 0;
	FailureEvent *e;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	if (principal_id != 0 && count)
	{
		FailureAccount *a = failures_account(principal_id, true, now);

		if (a != NULL)
		{
			a->failures++;
			a->last_failure = now;
			failures = a->failures;
			if (a->failures >= warden_lockout_threshold)
			{
				a->locked_until = now +
					(int64) warden_lockout_duration * USECS_PER_SEC;
				a->failures = 0;
				locked_until = a->locked_until;
			}
		}
	}
	e = failures_queue(FAILURE_LOGIN, principal_id, principal, reason, now);
	if (e != NULL)
	{
		e->failures = failures;
		e->locked_until = locked_until;
	}
	LWLockRelease(failure_shared->lock);

	if (e != NULL)
		failures_start_writer();
	else
		ereport(LOG,
				(errmsg("warden: login failed for \"%s\" (%s); the failure queue is full, so this event is not in warden.audit_log",
						principal, reason)));
	return locked_until;
}

/*
 * Queues an audit event of a hot path (a token issued for an API key) for
 * the writer, so that the caller's transaction writes nothing and waits for
 * no WAL flush. The event reaches warden.audit_log within milliseconds; if
 * the queue is full it goes to the server log instead.
 */
void
warden_audit_async(const char *event, const char *principal, const char *prefix)
{
	FailureEvent *e;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	e = failures_queue(FAILURE_AUDIT, 0, principal, event, GetCurrentTimestamp());
	if (e != NULL)
		strlcpy(e->prefix, prefix, sizeof(e->prefix));
	LWLockRelease(failure_shared->lock);
	if (e != NULL)
		failures_start_writer();
	else
		ereport(LOG,
				(errmsg("warden: %s for \"%s\" (key %s); the failure queue is full, so this event is not in warden.audit_log",
						event, principal, prefix)));
}

PG_FUNCTION_INFO_V1(warden_refresh_reused);

/*
 * warden._refresh_reused(family uuid, principal_id bigint, principal text)
 * queues the revocation of a refresh-token family whose used token was
 * presented again. When the queue is full the revocation cannot wait for a
 * writer, so this raises instead, and the caller's transaction revokes.
 */
Datum
warden_refresh_reused(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *family = PG_GETARG_UUID_P(0);
	int64		principal_id = PG_GETARG_INT64(1);
	char	   *principal = text_to_cstring(PG_GETARG_TEXT_PP(2));
	FailureEvent *e;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	e = failures_queue(FAILURE_REFRESH_REUSE, principal_id, principal,
					   "refresh_token_reused", GetCurrentTimestamp());
	if (e != NULL)
		e->family = *family;
	LWLockRelease(failure_shared->lock);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("warden's failure queue is full")));
	failures_start_writer();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(warden_family_revoked);

/*
 * warden._family_revoked(family uuid) returns boolean: is a revocation of
 * this family queued and not yet written?
 */
Datum
warden_family_revoked(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *family = PG_GETARG_UUID_P(0);
	bool		found = false;
	int			i;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_SHARED);
	for (i = 0; i < FAILURE_EVENTS && !found; i++)
	{
		FailureEvent *e = &failure_shared->events[i];

		found = e->in_use && e->kind == FAILURE_REFRESH_REUSE &&
			e->dboid == MyDatabaseId &&
			memcmp(&e->family, family, sizeof(pg_uuid_t)) == 0;
	}
	LWLockRelease(failure_shared->lock);
	PG_RETURN_BOOL(found);
}

PG_FUNCTION_INFO_V1(warden_login_locked_until);

/*
 * warden._login_locked_until(principal_id bigint) returns timestamptz: the
 * end of the account's lock as counted in shared memory, or NULL.
 */
Datum
warden_login_locked_until(PG_FUNCTION_ARGS)
{
	int64		principal_id = PG_GETARG_INT64(0);
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz locked_until = 0;
	FailureAccount *a;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_SHARED);
	a = failures_account(principal_id, false, now);
	if (a != NULL && a->locked_until > now)
		locked_until = a->locked_until;
	LWLockRelease(failure_shared->lock);
	if (locked_until == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(locked_until);
}

PG_FUNCTION_INFO_V1(warden_login_reset);

/*
 * warden._login_reset(principal_id bigint): a successful login or an
 * administrator's unlock clears the count and the lock.
 */
Datum
warden_login_reset(PG_FUNCTION_ARGS)
{
	int64		principal_id = PG_GETARG_INT64(0);
	FailureAccount *a;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	a = failures_account(principal_id, false, GetCurrentTimestamp());
	if (a != NULL)
		memset(a, 0, sizeof(*a));
	LWLockRelease(failure_shared->lock);
	PG_RETURN_VOID();
}

static void
failure_write_login(const FailureEvent *e)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
	INT4OID, TIMESTAMPTZOID};

	values[0] = Int64GetDatum(e->principal_id);
	if (e->principal_id == 0)
		nulls[0] = 'n';
	values[1] = CStringGetTextDatum(e->principal);
	values[2] = CStringGetTextDatum(e->reason);
	values[3] = TimestampTzGetDatum(e->at);
	values[4] = Int32GetDatum(e->failures);
	values[5] = TimestampTzGetDatum(e->locked_until);
	if (e->locked_until == 0)
		nulls[5] = 'n';
	if (SPI_execute_with_args("INSERT INTO warden.audit_log (at, event, principal, actor, detail) "
							  "VALUES ($4, 'login_failed', $2, 'warden', "
							  "        jsonb_strip_nulls(jsonb_build_object('reason', $3, "
							  "            'failures', $5, 'locked_until', $6)))",
							  6, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write a login failure");
	if (e->principal_id != 0 && e->failures > 0 &&
		SPI_execute_with_args("UPDATE warden.principals "
							  "   SET failed_logins = CASE WHEN $6 IS NULL THEN $5 ELSE 0 END, "
							  "       locked_until = coalesce($6, locked_until) "
							  " WHERE id = $1",
							  6, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not write a failure count");
	if (e->locked_until != 0 &&
		SPI_execute_with_args("INSERT INTO warden.audit_log (at, event, principal, actor, detail) "
							  "VALUES ($4, 'account_locked', $2, 'warden', "
							  "        jsonb_build_object('locked_until', $6))",
							  6, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write an account lock");
}

static void
failure_write_audit(const FailureEvent *e)
{
	Datum		values[4];
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};

	values[0] = CStringGetTextDatum(e->reason);
	values[1] = CStringGetTextDatum(e->principal);
	values[2] = TimestampTzGetDatum(e->at);
	values[3] = CStringGetTextDatum(e->prefix);
	if (SPI_execute_with_args("INSERT INTO warden.audit_log (at, event, principal, actor, detail) "
							  "VALUES ($3, $1, $2, 'warden', jsonb_build_object('prefix', $4))",
							  4, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write an audit event");
}

/*
 * Revokes every refresh token of the family and the access tokens they
 * were issued with.
 */
static void
failure_write_reuse(const FailureEvent *e)
{
	Datum		values[1];
	Oid			types[1] = {UUIDOID};

	values[0] = UUIDPGetDatum(&e->family);
	if (SPI_execute_with_args("SELECT warden._revoke_family($1, 'refresh_token_reused')",
							  1, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not revoke a refresh token family");
}

/* Are events of this database waiting for a writer? */
static bool
warden_failures_queued(Oid dboid)
{
	bool		any = false;
	int			i;

	LWLockAcquire(failure_shared->lock, LW_SHARED);
	for (i = 0; i < FAILURE_EVENTS && !any; i++)
		any = failure_shared->events[i].in_use &&
			!failure_shared->events[i].claimed &&
			failure_shared->events[i].dboid == dboid;
	LWLockRelease(failure_shared->lock);
	return any;
}

/* Writes one claimed batch in its own transaction; false when none left. */
static bool
failure_writer_pass(Oid dboid)
{
	FailureEvent batch[64];
	int			slots[64];
	int			n = 0;
	int			i;

	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < FAILURE_EVENTS && n < 64; i++)
	{
		FailureEvent *e = &failure_shared->events[i];

		if (e->in_use && !e->claimed && e->dboid == dboid)
		{
			e->claimed = true;
			batch[n] = *e;
			slots[n++] = i;
		}
	}
	LWLockRelease(failure_shared->lock);
	if (n == 0)
		return false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "writing warden authentication failures");
	for (i = 0; i < n; i++)
	{
		if (batch[i].kind == FAILURE_LOGIN)
			failure_write_login(&batch[i]);
		else if (batch[i].kind == FAILURE_AUDIT)
			failure_write_audit(&batch[i]);
		else
			failure_write_reuse(&batch[i]);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* only now, with the rows committed, are the events gone */
	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
		failure_shared->events[slots[i]].in_use = false;
	LWLockRelease(failure_shared->lock);
	return true;
}

/*
 * Clears this writer's registration. If events arrived after the last pass
 * their backend saw a writer running and started none, so look once more
 * under the lock before leaving.
 */
static bool
failure_writer_done(Oid dboid)
{
	bool		more = false;
	int			i;

	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < FAILURE_EVENTS; i++)
		if (failure_shared->events[i].in_use &&
			!failure_shared->events[i].claimed &&
			failure_shared->events[i].dboid == dboid)
			more = true;
	if (!more)
		for (i = 0; i < FAILURE_WRITERS; i++)
			if (failure_shared->writers[i] == dboid)
				failure_shared->writers[i] = InvalidOid;
	LWLockRelease(failure_shared->lock);
	return !more;
}

static void
failure_writer_exit(int code, Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	int			i;

	/* on an error exit, release claims so a later writer retries them */
	LWLockAcquire(failure_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < FAILURE_EVENTS; i++)
		if (failure_shared->events[i].dboid == dboid)
			failure_shared->events[i].claimed = false;
	for (i = 0; i < FAILURE_WRITERS; i++)
		if (failure_shared->writers[i] == dboid)
			failure_shared->writers[i] = InvalidOid;
	LWLockRelease(failure_shared->lock);
}

void
warden_failure_writer_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);

	before_shmem_exit(failure_writer_exit, arg);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	/*
	 * Events come in bursts (a stream of API-key tokens, a password
	 * guesser): stay a little while after the queue empties, polling, so a
	 * burst is served by one writer rather than a process per event.
	 */
	for (;;)
	{
		int			idle;

		CHECK_FOR_INTERRUPTS();
		while (failure_writer_pass(dboid))
			CHECK_FOR_INTERRUPTS();
		for (idle = 0; idle < WRITER_LINGER_POLLS; idle++)
		{
			int			rc = WaitLatch(MyLatch,
									   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									   WRITER_POLL_MS, PG_WAIT_EXTENSION);

			if (rc & WL_LATCH_SET)
				ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			if (warden_failures_queued(dboid))
				break;
		}
		if (idle == WRITER_LINGER_POLLS && failure_writer_done(dboid))
			break;
	}
	proc_exit(0);
}

PG_FUNCTION_INFO_V1(warden_failures_pending);

/*
 * warden._failures_pending() returns integer: events of this database
 * queued for the failure writer and not yet written.
 */
Datum
warden_failures_pending(PG_FUNCTION_ARGS)
{
	int			n = 0;
	int			i;

	failures_check_shmem();
	LWLockAcquire(failure_shared->lock, LW_SHARED);
	for (i = 0; i < FAILURE_EVENTS; i++)
		if (failure_shared->events[i].in_use &&
			failure_shared->events[i].dboid == MyDatabaseId)
			n++;
	LWLockRelease(failure_shared->lock);
	PG_RETURN_INT32(n);
}
