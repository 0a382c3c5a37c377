/*
 * timeutil.h
 *		Clocks of the edge: monotonic milliseconds for deadlines and
 *		durations, UTC timestamps for logs and health reports.
 *
 * Stateless and thread-safe.
 */
#ifndef EDGE_TIMEUTIL_H
#define EDGE_TIMEUTIL_H

#include <stdint.h>
#include <time.h>

/* "2026-11-25T18:00:00.123Z" and its NUL. */
#define TIMEUTIL_UTC_LEN 25

extern int64_t timeutil_mono_ms(void);
extern int64_t timeutil_mono_us(void);
extern struct timespec timeutil_mono_now(void);
extern double timeutil_elapsed_ms(const struct timespec *since);
extern struct timespec timeutil_wall_now(void);
extern void timeutil_format_utc(const struct timespec *ts,
								char out[TIMEUTIL_UTC_LEN]);

#endif							/* EDGE_TIMEUTIL_H */
