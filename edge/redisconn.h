/*
 * redisconn.h
 *		hiredis connections with AUTH and SELECT done, and commands that
 *		never wait past a deadline.
 *
 * Deadlines are absolute timeutil_mono_ms() values. A redisContext is used
 * by one thread at a time; these functions keep no state.
 */
#ifndef EDGE_REDISCONN_H
#define EDGE_REDISCONN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

extern redisContext *redisconn_connect(const RedisUrl *url,
									   int64_t deadline_ms,
									   char *err, size_t errlen);
extern bool redisconn_ping(redisContext *c, int64_t deadline_ms,
						   char *err, size_t errlen);

#endif							/* EDGE_REDISCONN_H */
