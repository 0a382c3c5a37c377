/*
 * tests/tools/slowdns.c
 *		An LD_PRELOAD library for tests: getaddrinfo() of a name under
 *		".slow.test" answers 127.0.0.1 only after SLOWDNS_MS milliseconds
 *		(default 3000), as a DNS server that answers late would; every
 *		other name goes to the C library.
 *
 * It shows that a process resolves host names off its event loops: a loop
 * that resolved one itself would stall that long.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOWDNS_SUFFIX ".slow.test"

typedef int (*GetaddrinfoFn) (const char *, const char *,
							  const struct addrinfo *, struct addrinfo **);

int
getaddrinfo(const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res)
{
	GetaddrinfoFn real = (GetaddrinfoFn) dlsym(RTLD_NEXT, "getaddrinfo");
	size_t		len = node != NULL ? strlen(node) : 0;
	size_t		slen = strlen(SLOWDNS_SUFFIX);

	if (real == NULL)
		return EAI_SYSTEM;
	if (len > slen && strcmp(node + len - slen, SLOWDNS_SUFFIX) == 0)
	{
		const char *ms = getenv("SLOWDNS_MS");
		long		wait = ms != NULL ? atol(ms) : 3000;
		struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};

		while (nanosleep(&ts, &ts) != 0)
			;
		node = "127.0.0.1";
	}
	return real(node, service, hints, res);
}
