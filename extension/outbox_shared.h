/*
 * outbox_shared.h
 *		The outbox's shared memory: one slot per background worker, read by
 *		warden.outbox_workers() and by committing backends that wake the
 *		workers of their database.
 */
#ifndef WARDEN_OUTBOX_SHARED_H
#define WARDEN_OUTBOX_SHARED_H

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

/* At most this many workers, over all databases served. */
#define OUTBOX_MAX_WORKERS 64
#define OUTBOX_ERROR_MAX 256
#define OUTBOX_STATE_MAX 32

/* Advisory lock field4 values of warden: a key's commit order, a worker's partition. */
#define OUTBOX_LOCK_KEY 0x7764
#define OUTBOX_LOCK_PARTITION 0x7765

typedef struct OutboxWorkerSlot
{
	/* Fixed when shared memory is set up. */
	bool		registered;
	char		dbname[NAMEDATALEN];
	int			partition;
	int			partitions;

	/* Written by the worker, read by anyone; all under OutboxShared.lock. */
	Oid			dboid;			/* InvalidOid until connected */
	int			pid;			/* 0 when not running */
	Latch	   *latch;
	char		state[OUTBOX_STATE_MAX];
	bool		connected;		/* to the broker */
	TimestampTz started_at;
	TimestampTz last_delivery_at;
	TimestampTz last_error_at;
	uint64		delivered;		/* since the server started */
	uint64		failed;			/* failed attempts since the server started */
	char		last_error[OUTBOX_ERROR_MAX];
} OutboxWorkerSlot;

typedef struct OutboxShared
{
	LWLock	   *lock;
	OutboxWorkerSlot slots[OUTBOX_MAX_WORKERS];
} OutboxShared;

extern OutboxShared *outbox_shared;

#endif							/* WARDEN_OUTBOX_SHARED_H */
