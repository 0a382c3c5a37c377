/*
 * reqid.h
 *		Request ids: the one a client sent if it is safe to echo and log,
 *		otherwise a fresh random one.
 *
 * Pure and thread-safe.
 */
#ifndef EDGE_REQID_H
#define EDGE_REQID_H

#include <stdbool.h>

#define REQID_MAX 128			/* longest id accepted from a client */
#define REQID_GENERATED_LEN 32	/* 16 random bytes in hex */

extern bool reqid_valid(const char *id);
extern void reqid_generate(char out[REQID_GENERATED_LEN + 1]);

#endif							/* EDGE_REQID_H */
