/*
 * net.c
 *		The listening socket of the edge.
 *
 * We create, bind and listen ourselves and hand the socket to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): its own errors for a failed bind are terse,
 * while here "address already in use" names the address, and getsockname()
 * tells the real port when port 0 asked for any free one.
 *
 * Main thread only, at start-up; no shared state.
 */
#include "net.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The kernel caps the backlog at net.core.somaxconn; asking for more than
 * the usual 4096 costs nothing and keeps bursts of connects from being
 * dropped while every worker is busy.
 */
#define NET_BACKLOG 65535

/* "host:port" or "[host]:port" of a socket address, numerically. */
static void
net_format(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	char		host[NI_MAXHOST];
	char		port[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
					NI_NUMERICHOST | NI_NUMERICSERV) != 0)
	{
		snprintf(out, outlen, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%s", host, port);
	else
		snprintf(out, outlen, "%s:%s", host, port);
}

/* One candidate address: a nonblocking listening socket, or -1 and errno. */
static int
net_listen_one(const struct addrinfo *ai)
{
	int			fd;
	int			one = 1;
	int			saved;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
	if (fd < 0)
		return -1;
	/* lets a restarted edge bind while old connections sit in TIME_WAIT */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		listen(fd, NET_BACKLOG) != 0)
	{
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Listens on addr, trying each address the host resolves to until one
 * binds. Returns the socket and writes its real address into bound, or
 * returns -1 with a message in err.
 */
int
net_listen(const ListenAddr *addr, char *bound, size_t boundlen,
		   char *err, size_t errlen)
{
	struct addrinfo hints;
	struct addrinfo *res;
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t	sslen = sizeof(ss);
	char		port[16];
	char		shown[NET_ADDR_MAX];
	int			rc;
	int			fd = -1;
	int			last_errno = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", addr->port);
	if (strchr(addr->host, ':') != NULL)
		snprintf(shown, sizeof(shown), "[%.*s]:%d", NET_ADDR_MAX - 10,
				 addr->host, addr->port);
	else
		snprintf(shown, sizeof(shown), "%.*s:%d", NET_ADDR_MAX - 10,
				 addr->host, addr->port);

	rc = getaddrinfo(addr->host, port, &hints, &res);
	if (rc != 0)
	{
		snprintf(err, errlen, "cannot resolve %s: %s", shown,
				 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
	{
		fd = net_listen_one(ai);
		if (fd < 0)
			last_errno = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
	{
		snprintf(err, errlen, "cannot listen on %s: %s", shown,
				 strerror(last_errno));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *) &ss, &sslen) != 0)
	{
		snprintf(err, errlen, "getsockname on %s: %s", shown,
				 strerror(errno));
		close(fd);
		return -1;
	}
	net_format((struct sockaddr *) &ss, sslen, bound, boundlen);
	return fd;
}
