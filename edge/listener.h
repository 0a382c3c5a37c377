/*
 * listener.h
 *		The LISTEN connection that keeps the edge's verifier and decision
 *		cache in step with the database (see listener.c).
 */
#ifndef EDGE_LISTENER_H
#define EDGE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

/* Starts the thread; it connects (and reconnects) by itself. */
extern bool listener_start(const char *conninfo, int timeout_ms,
						   char *err, size_t errlen);
extern void listener_stop(void);

/* Connected, listening, and the state read. */
extern bool listener_connected_now(void);
extern unsigned long listener_reconnects_total(void);

#endif							/* EDGE_LISTENER_H */
