/*
 * reqid.c
 *		Request ids: accept a client's X-Request-Id if it is safe to echo
 *		in a header and to log, otherwise make a random one.
 *
 * A client's id is kept so one id follows a request through proxies and
 * services; it is limited to a small alphabet so it can never split a
 * header, break a log line or smuggle markup.
 *
 * Thread-safe: each thread draws from its own buffer of getrandom(2)
 * bytes (the fallback counter is atomic).
 */
#include "reqid.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "timeutil.h"

/* 1 to REQID_MAX characters of [A-Za-z0-9._:-]. */
bool
reqid_valid(const char *id)
{
	size_t		n;
	char		c;

	for (n = 0; (c = id[n]) != '\0'; n++)
	{
		if (n == REQID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
			  c == '-'))
			return false;
	}
	return n > 0;
}

/* splitmix64: spreads a counter over 64 bits for the fallback below. */
static uint64_t
reqid_mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/*
 * 16 bytes from getrandom(2) as 32 lower-case hex digits. Ids only need to
 * be unique, not secret, so if the kernel cannot deliver (it can only fail
 * on a kernel without getrandom) a clock-and-counter mix stands in rather
 * than failing the request.
 */
static __thread unsigned char reqid_pool[4096];
static __thread size_t reqid_pool_left;

void
reqid_generate(char out[REQID_GENERATED_LEN + 1])
{
	static atomic_uint_fast64_t fallback_counter;
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[REQID_GENERATED_LEN / 2];
	size_t		got = 0;
	ssize_t		n;
	uint64_t	a;
	uint64_t	b;
	int			i;

	/* a syscall per 256 ids, not per id: each thread keeps a little ahead */
	while (reqid_pool_left < sizeof(bytes))
	{
		n = getrandom(reqid_pool, sizeof(reqid_pool), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t) sizeof(bytes))
			break;
		reqid_pool_left = (size_t) n;
	}
	if (reqid_pool_left >= sizeof(bytes))
	{
		reqid_pool_left -= sizeof(bytes);
		memcpy(bytes, reqid_pool + reqid_pool_left, sizeof(bytes));
		explicit_bzero(reqid_pool + reqid_pool_left, sizeof(bytes));
		got = sizeof(bytes);
	}
	if (got < sizeof(bytes))
	{
		a = reqid_mix((uint64_t) timeutil_mono_ms());
		b = reqid_mix(atomic_fetch_add(&fallback_counter, 1) ^ a);
		memcpy(bytes, &a, 8);
		memcpy(bytes + 8, &b, 8);
	}
	for (i = 0; i < (int) sizeof(bytes); i++)
	{
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 0x0f];
	}
	out[REQID_GENERATED_LEN] = '\0';
}
