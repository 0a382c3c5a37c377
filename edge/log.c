/*
 * log.c
 *		The edge's log: one JSON object per line on stdout.
 *
 * Lines are built with jansson, outside any lock, into a stack buffer (a
 * heap one only for unusually long lines), then written with a single
 * write(2) while holding log_lock, so lines of different threads never
 * interleave even when stdout is a pipe shared with other processes' output.
 *
 * Locking: log_lock serializes writes to the file descriptor and nothing
 * else. log_min_level is an atomic read on every call without a lock; it is
 * set once at start-up (and may later be changed at run time).
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

/* Most lines fit; longer ones take one malloc. */
#define LOG_LINE_STACK 2048
/* Durations print as 0.789, not 0.78900000000000003. */
#define LOG_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int log_min_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
	"debug", "info", "warn", "error"
};

void
log_set_level(LogLevel level)
{
	atomic_store(&log_min_level, (int) level);
}

bool
log_enabled(LogLevel level)
{
	return (int) level >= atomic_load(&log_min_level);
}

/* Writes buf whole, retrying after signals and short writes. */
static void
log_write_fd(const char *buf, size_t len)
{
	ssize_t		n;

	pthread_mutex_lock(&log_lock);
	while (len > 0)
	{
		n = write(STDOUT_FILENO, buf, len);
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			/* nowhere left to report a broken stdout */
			break;
		}
		buf += n;
		len -= (size_t) n;
	}
	pthread_mutex_unlock(&log_lock);
}

/* Serializes line plus a newline and writes it. */
static void
log_emit(json_t *line)
{
	char		stack[LOG_LINE_STACK];
	char	   *buf = stack;
	size_t		need;

	need = json_dumpb(line, stack, sizeof(stack) - 1, LOG_DUMP_FLAGS);
	if (need == 0)
		return;
	if (need > sizeof(stack) - 1)
	{
		buf = malloc(need + 1);
		if (buf == NULL)
			return;
		if (json_dumpb(line, buf, need, LOG_DUMP_FLAGS) != need)
		{
			free(buf);
			return;
		}
	}
	buf[need] = '\n';
	log_write_fd(buf, need + 1);
	if (buf != stack)
		free(buf);
}

void
log_write(LogLevel level, const char *msg, const char *fields_fmt,...)
{
	char		ts[TIMEUTIL_UTC_LEN];
	struct timespec now;
	json_error_t jerr;
	json_t	   *line;
	json_t	   *fields;
	va_list		ap;

	if (!log_enabled(level))
		return;
	now = timeutil_wall_now();
	timeutil_format_utc(&now, ts);

	line = json_object();
	if (line == NULL)
		return;
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(log_level_names[level]));
	json_object_set_new(line, "msg", json_string(msg));
	if (fields_fmt != NULL)
	{
		va_start(ap, fields_fmt);
		fields = json_vpack_ex(&jerr, 0, fields_fmt, ap);
		va_end(ap);
		/* a bad format is a caller's bug: keep the message, say so */
		if (fields == NULL)
			json_object_set_new(line, "log_error", json_string(jerr.text));
		else if (!json_is_object(fields))
			json_object_set_new(line, "log_error",
								json_string("fields are not an object"));
		else
			json_object_update(line, fields);
		json_decref(fields);
	}
	log_emit(line);
	json_decref(line);
}
