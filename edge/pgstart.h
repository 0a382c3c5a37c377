/*
 * pgstart.h
 *		PostgreSQL connections made on a thread of their own, for event
 *		loops that must not wait on a host name's resolution.
 *
 * libpq resolves host names with a blocking getaddrinfo() (in
 * PQconnectStart, and in PQconnectPoll for each further host of a list),
 * which no deadline of ours bounds: a DNS server that does not answer
 * would stall the loop that connects, and with it every request of an
 * HTTP worker. A conninfo that names its server by address or socket path
 * needs none of this (pgstart_needed) and connects on the loop, without
 * waiting (pgconn.c).
 *
 * Each start is a short-lived detached thread (connections are made
 * rarely: a pool's first jobs, or after one breaks), so that a start stuck
 * in DNS holds up no other. Its done runs on that thread.
 */
#ifndef EDGE_PGSTART_H
#define EDGE_PGSTART_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * conn: connected and nonblocking, for done to keep (PQfinish); NULL with
 * err saying why.
 */
typedef void (*PgStartDone) (void *arg, PGconn *conn, const char *err);

/* The starts of one owner, to wait for before it goes away. */
typedef struct PgStarts
{
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int			running;
} PgStarts;

/* True when connecting may resolve a host name (host set, hostaddr not). */
extern bool pgstart_needed(const char *conninfo);

extern bool pgstart_init(PgStarts *starts);

/*
 * Connects on a new thread, within deadline_ms once the host name is
 * resolved; done is called exactly once, unless this returns false (err).
 */
extern bool pgstart_begin(PgStarts *starts, const char *conninfo,
						  int64_t deadline_ms, PgStartDone done, void *arg,
						  char *err, size_t errlen);

/* Until every start has called its done. */
extern void pgstart_wait(PgStarts *starts);

extern void pgstart_destroy(PgStarts *starts);

#endif							/* EDGE_PGSTART_H */
