/*
 * log.h
 *		The edge's log: one JSON object per line on stdout.
 *
 * Every line is {"ts":..., "level":..., "msg":..., <fields>}. Fields are
 * given as a jansson json_pack() format and its arguments, for example
 *
 *		log_write(LOG_LEVEL_INFO, "listening", "{s:s, s:i}",
 *				  "address", addr, "threads", n);
 *
 * so callers never build JSON by hand. Safe to call from any thread: each
 * line is written whole by one write(2) under a mutex.
 *
 * Never log a secret (passwords, tokens, URLs that may carry either) or a
 * raw request path or query string: paths and queries may carry personal
 * data, so the access log names the route instead.
 */
#ifndef EDGE_LOG_H
#define EDGE_LOG_H

#include <stdbool.h>

/* Same order as config_log_level_names in config.h. */
typedef enum LogLevel
{
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR
} LogLevel;

extern void log_set_level(LogLevel level);
extern bool log_enabled(LogLevel level);
extern void log_write(LogLevel level, const char *msg,
					  const char *fields_fmt,...);

#endif							/* EDGE_LOG_H */
