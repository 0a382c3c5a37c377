/*
 * ipaddr.h
 *		IP addresses for deciding who a client is: parsing IPv4 and IPv6
 *		text, lists of trusted networks (CIDR), picking the client's address
 *		out of X-Forwarded-For, and the text a rate limit counts it under.
 *
 * Every address is kept in 16 bytes; an IPv4 address as its IPv4-mapped
 * IPv6 form (::ffff:a.b.c.d), so that one comparison serves both families
 * and a peer seen on a dual-stack socket as ::ffff:10.0.0.1 is the same
 * client as 10.0.0.1. Networks follow suit: 10.0.0.0/8 is stored as
 * ::ffff:10.0.0.0/104.
 *
 * X-Forwarded-For is only as good as whoever wrote it: a client writes any
 * address it likes there, and each proxy appends the address it was
 * connected from. So the header is read from the right, and only while the
 * address that handed the request on is a trusted proxy; the first
 * address that is not trusted is the client (ipaddr_client).
 *
 * Pure: no allocation, no state, caller-supplied buffers.
 */
#ifndef WARDEN_IPADDR_H
#define WARDEN_IPADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Enough for any address this file formats, with a "/64" after it. */
#define IPADDR_TEXT_MAX 64
/* Trusted networks in one list. */
#define IPADDR_LIST_MAX 32
/* X-Forwarded-For entries read before giving up (all of them trusted). */
#define IPADDR_HOPS_MAX 64

typedef struct IpAddr
{
	unsigned char b[16];		/* network order; IPv4 IPv4-mapped */
} IpAddr;

typedef struct IpNetwork
{
	IpAddr		addr;			/* host bits zero */
	int			bits;			/* prefix length over the 16 bytes: 0..128 */
} IpNetwork;

typedef struct IpNetworkList
{
	int			n;
	IpNetwork	net[IPADDR_LIST_MAX];
} IpNetworkList;

/*
 * An address written in text[0..len): dotted-quad IPv4 (no leading zeros),
 * or IPv6 (RFC 4291 text, optionally in brackets, no zone). Blanks around
 * it are allowed; nothing else is.
 */
extern bool ipaddr_parse(const char *text, size_t len, IpAddr *out);

extern bool ipaddr_is_v4(const IpAddr *a);

/* Canonical text: "10.0.0.1", "2001:db8::1". out has IPADDR_TEXT_MAX. */
extern void ipaddr_format(const IpAddr *a, char out[IPADDR_TEXT_MAX]);

/*
 * The text a per-address limit counts a client under: its address for
 * IPv4, its /64 for IPv6 ("2001:db8:1:2::/64"), because one IPv6 host is
 * usually given a whole /64 and would otherwise have 2^64 addresses to
 * spread its requests over.
 */
extern void ipaddr_limit_key(const IpAddr *a, char out[IPADDR_TEXT_MAX]);

/*
 * A list of networks "10.0.0.0/8, 192.168.1.7, ::1/128" (commas and/or
 * blanks between them; an address alone is a /32 or /128). Empty text is
 * an empty list. Refused: malformed entries, prefixes out of range, host
 * bits set (10.0.0.1/8: probably not what was meant), more than
 * IPADDR_LIST_MAX entries. The message never quotes more than an entry.
 */
extern bool ipaddr_parse_list(const char *text, IpNetworkList *out,
							  char *err, size_t errlen);

extern bool ipaddr_in_list(const IpAddr *a, const IpNetworkList *list);

/*
 * The client's address: peer (the TCP peer) unless it is trusted; then the
 * X-Forwarded-For headers xff[0..nxff) (in the order received; their
 * comma-separated entries in order) are read from the right: each entry
 * replaces the address, and the first one that is not trusted is the
 * client. An entry that does not parse stops the walk at the address that
 * handed it on (a trusted proxy would not write it); if every entry is
 * trusted, the left-most one is the client. Returns how many entries were
 * taken (0: the peer itself).
 */
extern int	ipaddr_client(const IpAddr *peer, const char *const *xff,
						  size_t nxff, const IpNetworkList *trusted,
						  IpAddr *out);

#endif							/* WARDEN_IPADDR_H */
