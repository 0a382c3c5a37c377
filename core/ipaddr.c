/*
 * ipaddr.c
 *		IP addresses, trusted networks and the client behind proxies (see
 *		ipaddr.h).
 *
 * inet_pton does the address grammar (glibc refuses leading zeros in IPv4
 * and anything but RFC 4291 text for IPv6); this file adds the framing:
 * blanks, brackets, prefixes, lists, and the walk through X-Forwarded-For.
 */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Longest address text inet_pton is given (INET6_ADDRSTRLEN is 46). */
#define IPADDR_PARSE_MAX 63

static const unsigned char ipaddr_v4_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static bool
ipaddr_blank(char c)
{
	return c == ' ' || c == '\t';
}

bool
ipaddr_is_v4(const IpAddr *a)
{
	return memcmp(a->b, ipaddr_v4_prefix, sizeof(ipaddr_v4_prefix)) == 0;
}

bool
ipaddr_parse(const char *text, size_t len, IpAddr *out)
{
	char		buf[IPADDR_PARSE_MAX + 1];
	unsigned char v4[4];
	IpAddr		a;

	while (len > 0 && ipaddr_blank(*text))
	{
		text++;
		len--;
	}
	while (len > 0 && ipaddr_blank(text[len - 1]))
		len--;
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
	{
		/* brackets are for IPv6 only */
		text++;
		len -= 2;
		if (memchr(text, ':', len) == NULL)
			return false;
	}
	if (len == 0 || len > IPADDR_PARSE_MAX || memchr(text, '\0', len) != NULL)
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, v4) == 1)
	{
		memcpy(a.b, ipaddr_v4_prefix, sizeof(ipaddr_v4_prefix));
		memcpy(a.b + 12, v4, 4);
	}
	else if (inet_pton(AF_INET6, buf, a.b) != 1)
		return false;
	*out = a;
	return true;
}

void
ipaddr_format(const IpAddr *a, char out[IPADDR_TEXT_MAX])
{
	const char *ok;

	if (ipaddr_is_v4(a))
		ok = inet_ntop(AF_INET, a->b + 12, out, IPADDR_TEXT_MAX);
	else
		ok = inet_ntop(AF_INET6, a->b, out, IPADDR_TEXT_MAX);
	/* cannot fail with a buffer this size; be safe anyway */
	if (ok == NULL)
		snprintf(out, IPADDR_TEXT_MAX, "?");
}

void
ipaddr_limit_key(const IpAddr *a, char out[IPADDR_TEXT_MAX])
{
	IpAddr		net;
	size_t		n;

	if (ipaddr_is_v4(a))
	{
		ipaddr_format(a, out);
		return;
	}
	net = *a;
	memset(net.b + 8, 0, 8);
	ipaddr_format(&net, out);
	n = strlen(out);
	snprintf(out + n, IPADDR_TEXT_MAX - n, "/64");
}

/* Whether a's first bits bits equal net's. */
static bool
ipaddr_prefix_equal(const IpAddr *a, const IpAddr *net, int bits)
{
	int			full = bits / 8;
	int			rest = bits % 8;
	unsigned char mask;

	if (memcmp(a->b, net->b, (size_t) full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char) (0xff << (8 - rest));
	return (a->b[full] & mask) == (net->b[full] & mask);
}

/* Whether any bit after the first bits bits is set. */
static bool
ipaddr_host_bits(const IpAddr *a, int bits)
{
	int			i;

	for (i = bits; i < 128; i++)
	{
		if (a->b[i / 8] & (0x80 >> (i % 8)))
			return true;
	}
	return false;
}

static bool
ipaddr_fail(char *err, size_t errlen, const char *what, const char *entry,
			size_t len)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: \"%.*s\"", what,
				 (int) (len > 48 ? 48 : len), entry);
	return false;
}

/* One "addr[/bits]" in entry[0..len). */
static bool
ipaddr_parse_network(const char *entry, size_t len, IpNetwork *out,
					 char *err, size_t errlen)
{
	const char *slash = memchr(entry, '/', len);
	size_t		alen = slash != NULL ? (size_t) (slash - entry) : len;
	int			bits;
	int			max;
	size_t		i;

	if (!ipaddr_parse(entry, alen, &out->addr))
		return ipaddr_fail(err, errlen, "not an IP address or network", entry, len);
	max = ipaddr_is_v4(&out->addr) ? 32 : 128;
	if (slash == NULL)
		bits = max;
	else
	{
		size_t		dlen = len - alen - 1;

		if (dlen == 0 || dlen > 3)
			return ipaddr_fail(err, errlen, "prefix length must be a number", entry, len);
		bits = 0;
		for (i = 0; i < dlen; i++)
		{
			if (slash[1 + i] < '0' || slash[1 + i] > '9')
				return ipaddr_fail(err, errlen, "prefix length must be a number", entry, len);
			bits = bits * 10 + (slash[1 + i] - '0');
		}
		if (bits > max)
			return ipaddr_fail(err, errlen, "prefix length out of range", entry, len);
	}
	out->bits = max == 32 ? bits + 96 : bits;
	if (ipaddr_host_bits(&out->addr, out->bits))
		return ipaddr_fail(err, errlen, "address has bits set after the prefix", entry, len);
	return true;
}

bool
ipaddr_parse_list(const char *text, IpNetworkList *out, char *err,
				  size_t errlen)
{
	IpNetworkList list;
	const char *p = text;
	size_t		len;

	memset(&list, 0, sizeof(list));
	for (;;)
	{
		while (*p == ',' || ipaddr_blank(*p))
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, ", \t");
		if (list.n == IPADDR_LIST_MAX)
		{
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "more than %d networks", IPADDR_LIST_MAX);
			return false;
		}
		if (!ipaddr_parse_network(p, len, &list.net[list.n], err, errlen))
			return false;
		list.n++;
		p += len;
	}
	*out = list;
	return true;
}

bool
ipaddr_in_list(const IpAddr *a, const IpNetworkList *list)
{
	int			i;

	for (i = 0; i < list->n; i++)
	{
		if (ipaddr_prefix_equal(a, &list->net[i].addr, list->net[i].bits))
			return true;
	}
	return false;
}

int
ipaddr_client(const IpAddr *peer, const char *const *xff, size_t nxff,
			  const IpNetworkList *trusted, IpAddr *out)
{
	IpAddr		cur = *peer;
	IpAddr		next;
	int			taken = 0;
	size_t		h;

	for (h = nxff; h > 0 && ipaddr_in_list(&cur, trusted); h--)
	{
		const char *header = xff[h - 1];
		size_t		end = strlen(header);

		/* the entries of one header, right to left */
		while (ipaddr_in_list(&cur, trusted))
		{
			size_t		start = end;

			if (taken == IPADDR_HOPS_MAX)
				goto done;
			while (start > 0 && header[start - 1] != ',')
				start--;
			if (!ipaddr_parse(header + start, end - start, &next))
				goto done;
			cur = next;
			taken++;
			if (start == 0)
				break;			/* on to the header before this one */
			end = start - 1;
		}
	}
done:
	*out = cur;
	return taken;
}
