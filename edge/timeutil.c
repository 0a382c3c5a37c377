/*
 * timeutil.c
 *		Clocks of the edge.
 *
 * Deadlines and durations use CLOCK_MONOTONIC so that a wall-clock step (NTP)
 * never makes a request look negative or a probe wait forever; only what a
 * human reads (log "ts", readiness "since") uses the wall clock.
 *
 * Stateless and thread-safe.
 */
#include "timeutil.h"

#include <stdio.h>

struct timespec
timeutil_mono_now(void)
{
	struct timespec ts;

	/* cannot fail for a valid clock id and pointer */
	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

int64_t
timeutil_mono_ms(void)
{
	struct timespec ts = timeutil_mono_now();

	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
timeutil_mono_us(void)
{
	struct timespec ts = timeutil_mono_now();

	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double
timeutil_elapsed_ms(const struct timespec *since)
{
	struct timespec now = timeutil_mono_now();

	return (double) (now.tv_sec - since->tv_sec) * 1000.0 +
		(double) (now.tv_nsec - since->tv_nsec) / 1000000.0;
}

struct timespec
timeutil_wall_now(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

/* RFC 3339 in UTC with milliseconds, the one timestamp format of the edge. */
void
timeutil_format_utc(const struct timespec *ts, char out[TIMEUTIL_UTC_LEN])
{
	struct tm	tm;
	time_t		secs = ts->tv_sec;

	/* a year past 9999 would not fit: show the epoch rather than garbage */
	if (gmtime_r(&secs, &tm) == NULL || tm.tm_year > 9999 - 1900 ||
		strftime(out, TIMEUTIL_UTC_LEN, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
	{
		snprintf(out, TIMEUTIL_UTC_LEN, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out + 19, TIMEUTIL_UTC_LEN - 19, ".%03uZ",
			 (unsigned) (ts->tv_nsec / 1000000) % 1000u);
}
