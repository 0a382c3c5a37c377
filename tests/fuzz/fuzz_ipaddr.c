/*
 * fuzz_ipaddr.c
 *		libFuzzer target for core/ipaddr: the input is read as one address,
 *		as a list of trusted networks, and (split at newlines into up to
 *		four headers) as X-Forwarded-For behind a trusted peer.
 *
 * Properties: nothing is read or written out of bounds; an address that
 * parses formats to text that parses back to the same address; a parsed
 * list holds at most IPADDR_LIST_MAX networks, each containing its own
 * address; the client found is the peer or an address written in the
 * headers, after at most IPADDR_HOPS_MAX entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipaddr.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char		out[IPADDR_TEXT_MAX];
	const char *xff[4];
	size_t		nxff = 0;
	IpNetworkList list;
	IpNetworkList trusted;
	IpAddr		a;
	IpAddr		b;
	IpAddr		peer;
	char	   *p;
	int			taken;
	int			i;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';

	if (ipaddr_parse(text, size, &a))
	{
		ipaddr_format(&a, out);
		if (!ipaddr_parse(out, strlen(out), &b) || memcmp(&a, &b, sizeof(a)) != 0)
			abort();
		ipaddr_limit_key(&a, out);
		if (strlen(out) >= IPADDR_TEXT_MAX)
			abort();
	}

	if (ipaddr_parse_list(text, &list, out, sizeof(out)))
	{
		if (list.n < 0 || list.n > IPADDR_LIST_MAX)
			abort();
		for (i = 0; i < list.n; i++)
			if (list.net[i].bits < 0 || list.net[i].bits > 128 ||
				!ipaddr_in_list(&list.net[i].addr, &list))
				abort();
	}

	/* the text as headers behind a trusted peer */
	if (!ipaddr_parse_list("10.0.0.0/8, fd00::/8, 127.0.0.1", &trusted, NULL, 0) ||
		!ipaddr_parse("10.1.2.3", 8, &peer))
		abort();
	for (p = text; nxff < 4; p++)
	{
		xff[nxff++] = p;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		*p = '\0';
	}
	taken = ipaddr_client(&peer, xff, nxff, &trusted, &a);
	if (taken < 0 || taken > IPADDR_HOPS_MAX ||
		(taken == 0 && memcmp(&a, &peer, sizeof(a)) != 0))
		abort();
	if (taken > 0)
	{
		/* it was written somewhere in the headers, in some spelling */
		bool		found = false;
		size_t		h;

		for (h = 0; h < nxff && !found; h++)
		{
			const char *q = xff[h];

			for (;;)
			{
				size_t		n = strcspn(q, ",");

				if (ipaddr_parse(q, n, &b) && memcmp(&a, &b, sizeof(a)) == 0)
					found = true;
				if (q[n] == '\0')
					break;
				q += n + 1;
			}
		}
		if (!found)
			abort();
	}
	free(text);
	return 0;
}
