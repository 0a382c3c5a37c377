/*
 * net.h
 *		The listening socket of the edge, made by us rather than by
 *		libmicrohttpd so that failures (address in use, bad host) are
 *		reported plainly and the real address of port 0 is known.
 *
 * Called from the main thread at start-up only.
 */
#ifndef EDGE_NET_H
#define EDGE_NET_H

#include <stddef.h>

#include "config.h"

/* "[ipv6]:port" with room to spare. */
#define NET_ADDR_MAX 80

extern int	net_listen(const ListenAddr *addr, char *bound, size_t boundlen,
					   char *err, size_t errlen);

#endif							/* EDGE_NET_H */
