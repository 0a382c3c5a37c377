/*
 * replicas.h
 *		Read replicas (WARDEN_DATABASE_READ_URL): a pool per replica, a
 *		prober that follows each one's state, replay position and lag, and
 *		the choice of where a read goes (see replicas.c).
 *
 * Threads: replicas_configure, replicas_start, replicas_stop and
 * replicas_free run on the main thread; the rest from any thread.
 */
#ifndef EDGE_REPLICAS_H
#define EDGE_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "dbpool.h"

typedef enum ReplicaStatus
{
	REPLICA_UNKNOWN,			/* not probed yet */
	REPLICA_UP,					/* answers, and is in recovery */
	REPLICA_DOWN,				/* does not answer */
	REPLICA_NOT_STANDBY			/* answers, but is not in recovery (promoted) */
} ReplicaStatus;

/* Why a read went to the primary although replicas are configured. */
typedef enum ReplicaFallback
{
	REPLICA_FALLBACK_DOWN,		/* no replica up (by its last probe) */
	REPLICA_FALLBACK_LAG,		/* the replicas up lag past WARDEN_REPLICA_MAX_LAG_MS */
	REPLICA_FALLBACK_LSN,		/* the replica had not replayed the client's Warden-LSN */
	REPLICA_FALLBACK_UNAVAILABLE,	/* no connection to the replica in time, or it broke */
	REPLICA_FALLBACK_ERROR,		/* the replica failed the call as only a standby does */
	REPLICA_NFALLBACKS
} ReplicaFallback;

/* Metric labels of ReplicaFallback, in its order. */
extern const char *const replicas_fallback_names[];

typedef struct ReplicaChoice
{
	DbPool	   *pool;			/* NULL: the primary */
	int			index;			/* the replica, or -1 */
	bool		guard;			/* send replicas_guard_sql first: its replay of
								 * the client's LSN is not probed yet */
	ReplicaFallback why;		/* pool NULL (with replicas configured): why */
} ReplicaChoice;

typedef struct ReplicaInfo
{
	const char *name;			/* "replica-1", ... in the setting's order */
	ReplicaStatus status;
	bool		stale;			/* no probe answered for too long */
	bool		lagging;		/* further behind than the setting */
	double		lag_seconds;	/* < 0: unknown */
	struct timespec since;		/* wall clock of the last change of status */
	unsigned long reads;		/* calls it served */
	int			busy;			/* its pool's */
	int			waiting;
} ReplicaInfo;

/*
 * The statement a read with a Warden-LSN starts with on a replica whose
 * probe has not seen that LSN replayed yet: $1 the LSN; it fails
 * (SQLSTATE 22012) unless the replica has replayed it.
 */
extern const char *const replicas_guard_sql;
#define REPLICAS_GUARD_SQLSTATE "22012"

/*
 * Splits and checks WARDEN_DATABASE_READ_URL (each a libpq URL); no
 * threads yet. False with err naming the setting and the replica by its
 * place, never quoting it.
 */
extern bool replicas_configure(const EdgeConfig *cfg, char *err, size_t errlen);

/*
 * Starts a pool per replica, in shards driven by the HTTP workers' loops
 * like the primary's (dbpool_attach), and the prober; nothing without
 * replicas.
 */
extern bool replicas_start(int shards, char *err, size_t errlen);

/*
 * Stops the prober and the pools (which then refuse jobs); replicas_free,
 * once no request is left, frees everything.
 */
extern void replicas_stop(void);
extern void replicas_free(void);

extern int	replicas_count(void);

/* Replica i's pool (0 <= i < replicas_count()), for the loops to drive. */
extern DbPool *replicas_pool(int i);

/* Where a read goes; lsn is the client's Warden-LSN, 0 for none. */
extern void replicas_choose(uint64_t lsn, ReplicaChoice *out);

/*
 * Whether a replica's failure of a read means "ask the primary" (once): an
 * error a standby raises where the primary would not (a write refused, a
 * recovery conflict, a function or type the replica has not replayed yet,
 * the server shutting down or starting).
 */
extern bool replicas_retry_on_primary(const char *sqlstate, bool has_context);

/* A read answered by a pool: index -1 for the primary. */
extern void replicas_read_served(int index);
extern void replicas_fell_back(ReplicaFallback why);

extern unsigned long replicas_primary_reads(void);
extern unsigned long replicas_fallbacks(ReplicaFallback why);

/* Replica i's state; false past the last. */
extern bool replicas_info(int i, ReplicaInfo *out);

#endif							/* EDGE_REPLICAS_H */
