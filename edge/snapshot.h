/*
 * snapshot.h
 *		The edge's state kept in Redis too, for an edge that starts while
 *		PostgreSQL is down.
 *
 * An edge verifies tokens with state it reads from PostgreSQL
 * (warden.edge_state() and NOTIFY warden_tokens, see listener.c). Every edge
 * that follows the database also writes what it learns to Redis: the last
 * snapshot, each revoked token id, each principal's state, the newest
 * policy and API-key versions. A replica started during a PostgreSQL outage
 * (an autoscaler adds them exactly when load is high) reads all of it back
 * and serves valid tokens and shared decisions instead of nothing; the
 * first connection to PostgreSQL replaces it with the database's own.
 *
 * What no edge was listening for (a revocation committed while every edge
 * was away from the database) is not in Redis; such a state is only used
 * until PostgreSQL answers again.
 */
#ifndef EDGE_SNAPSHOT_H
#define EDGE_SNAPSHOT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The snapshot's key is named by the database URL's digest. */
extern void snapshot_configure(const char *database_url);

/* After a full load from PostgreSQL: the state as warden.edge_state() gave it. */
extern void snapshot_publish(const char *state_text, const json_t *state);

/* Each change from NOTIFY, as the listener applies it. */
extern void snapshot_revoked(const char *jti, int64_t exp);
extern void snapshot_principal(const char *name, const char *payload);
extern void snapshot_version(const char *which, uint64_t version);

/*
 * Loads the state from Redis (the listener, while PostgreSQL cannot be
 * reached and nothing is loaded yet). Waits at most timeout_ms; true when a
 * state was loaded.
 */
extern bool snapshot_load(int timeout_ms);

#endif							/* EDGE_SNAPSHOT_H */
