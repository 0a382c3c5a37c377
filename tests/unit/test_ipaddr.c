/*
 * test_ipaddr.c
 *		Table-driven tests of core/ipaddr.c: address and network parsing,
 *		canonical text, the per-address limit key, and the client's address
 *		behind trusted proxies (X-Forwarded-For, right-most untrusted).
 */
#include "unit.h"

#include <stdbool.h>
#include <string.h>

#include "ipaddr.h"

/* --- addresses ----------------------------------------------------------- */

typedef struct addr_case
{
	const char *text;
	bool		ok;
	const char *canonical;		/* ipaddr_format of the result */
	const char *key;			/* ipaddr_limit_key of the result */
} addr_case;

static const addr_case addr_cases[] = {
	{"10.0.0.1", true, "10.0.0.1", "10.0.0.1"},
	{"  192.168.1.200\t", true, "192.168.1.200", "192.168.1.200"},
	{"0.0.0.0", true, "0.0.0.0", "0.0.0.0"},
	{"255.255.255.255", true, "255.255.255.255", "255.255.255.255"},
	{"::1", true, "::1", "::/64"},
	{"[::1]", true, "::1", "::/64"},
	{"2001:DB8:0:0:1:2:3:4", true, "2001:db8::1:2:3:4", "2001:db8::/64"},
	{"2001:db8:aa:bb:1:2:3:4", true, "2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::/64"},
	{"::ffff:10.1.2.3", true, "10.1.2.3", "10.1.2.3"},
	{"[::ffff:10.1.2.3]", true, "10.1.2.3", "10.1.2.3"},
	{"", false, NULL, NULL},
	{"   ", false, NULL, NULL},
	{"10.0.0", false, NULL, NULL},
	{"10.0.0.256", false, NULL, NULL},
	{"010.0.0.1", false, NULL, NULL},
	{"10.0.0.1:8080", false, NULL, NULL},
	{"[10.0.0.1]", false, NULL, NULL},
	{"[::1]:443", false, NULL, NULL},
	{"fe80::1%eth0", false, NULL, NULL},
	{"unknown", false, NULL, NULL},
	{"1.2.3.4 5.6.7.8", false, NULL, NULL},
	{"::1::2", false, NULL, NULL},
	{"[::1", false, NULL, NULL},
	{"0x7f.0.0.1", false, NULL, NULL},
	{"1111:2222:3333:4444:5555:6666:7777:8888:9999", false, NULL, NULL},
};

static void
test_addresses(void)
{
	size_t		i;

	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++)
	{
		const addr_case *c = &addr_cases[i];
		IpAddr		a;
		char		text[IPADDR_TEXT_MAX];
		bool		ok;

		memset(&a, 0xab, sizeof(a));
		ok = ipaddr_parse(c->text, strlen(c->text), &a);
		UNIT_CHECK(ok == c->ok, "parse \"%s\": ok=%d, want %d", c->text, ok, c->ok);
		if (!ok || !c->ok)
			continue;
		ipaddr_format(&a, text);
		UNIT_CHECK(strcmp(text, c->canonical) == 0, "format \"%s\": got %s, want %s",
				   c->text, text, c->canonical);
		ipaddr_limit_key(&a, text);
		UNIT_CHECK(strcmp(text, c->key) == 0, "key \"%s\": got %s, want %s",
				   c->text, text, c->key);
	}

	/* the length bounds the text: no read past it */
	{
		IpAddr		a;

		UNIT_CHECK(ipaddr_parse("10.0.0.1junk", 8, &a), "length-bounded parse");
		UNIT_CHECK(!ipaddr_parse("10.0.0.1\0", 9, &a), "a NUL inside the length");
	}
}

/* --- networks ------------------------------------------------------------ */

typedef struct list_case
{
	const char *text;
	bool		ok;
	int			n;
	const char *in[4];			/* addresses inside */
	const char *out[4];			/* addresses outside */
} list_case;

static const list_case list_cases[] = {
	{"", true, 0, {NULL}, {"10.0.0.1", "::1", NULL}},
	{"  , ,", true, 0, {NULL}, {"10.0.0.1", NULL}},
	{"10.0.0.0/8", true, 1, {"10.0.0.1", "10.255.255.255", "::ffff:10.9.9.9", NULL},
	{"11.0.0.0", "9.255.255.255", "::1", NULL}},
	{"127.0.0.1, ::1", true, 2, {"127.0.0.1", "::1", NULL}, {"127.0.0.2", "::2", NULL}},
	{"192.168.0.0/16 172.16.0.0/12,fd00::/8", true, 3,
		{"192.168.3.4", "172.31.0.1", "fdab::1", NULL},
	{"172.32.0.1", "fe00::1", "192.169.0.1", NULL}},
	{"0.0.0.0/0", true, 1, {"1.2.3.4", "255.0.0.1", NULL}, {"::1", "2001:db8::1", NULL}},
	{"::/0", true, 1, {"1.2.3.4", "::1", "2001:db8::1", NULL}, {NULL}},
	{"10.1.2.3/31", false, 0, {NULL}, {NULL}},
	{"10.1.2.2/31", true, 1, {"10.1.2.2", "10.1.2.3", NULL}, {"10.1.2.4", "10.1.2.1", NULL}},
	{"10.0.0.1/8", false, 0, {NULL}, {NULL}},
	{"10.0.0.0/33", false, 0, {NULL}, {NULL}},
	{"::/129", false, 0, {NULL}, {NULL}},
	{"10.0.0.0/", false, 0, {NULL}, {NULL}},
	{"10.0.0.0/8x", false, 0, {NULL}, {NULL}},
	{"10.0.0.0/-1", false, 0, {NULL}, {NULL}},
	{"10.0.0.0/0008", false, 0, {NULL}, {NULL}},
	{"localhost", false, 0, {NULL}, {NULL}},
	{"10.0.0.0/8;11.0.0.0/8", false, 0, {NULL}, {NULL}},
};

static void
test_lists(void)
{
	size_t		i;
	int			k;

	for (i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++)
	{
		const list_case *c = &list_cases[i];
		IpNetworkList list;
		char		err[128] = "";
		bool		ok;

		ok = ipaddr_parse_list(c->text, &list, err, sizeof(err));
		UNIT_CHECK(ok == c->ok, "list \"%s\": ok=%d, want %d (%s)", c->text, ok, c->ok, err);
		if (!ok)
		{
			UNIT_CHECK(err[0] != '\0', "list \"%s\": no message", c->text);
			continue;
		}
		if (!c->ok)
			continue;
		UNIT_CHECK(list.n == c->n, "list \"%s\": %d networks, want %d", c->text, list.n, c->n);
		for (k = 0; k < 4 && c->in[k] != NULL; k++)
		{
			IpAddr		a;

			UNIT_CHECK(ipaddr_parse(c->in[k], strlen(c->in[k]), &a) &&
					   ipaddr_in_list(&a, &list), "list \"%s\": %s should be inside",
					   c->text, c->in[k]);
		}
		for (k = 0; k < 4 && c->out[k] != NULL; k++)
		{
			IpAddr		a;

			UNIT_CHECK(ipaddr_parse(c->out[k], strlen(c->out[k]), &a) &&
					   !ipaddr_in_list(&a, &list), "list \"%s\": %s should be outside",
					   c->text, c->out[k]);
		}
	}

	/* too many entries */
	{
		char		text[IPADDR_LIST_MAX * 16 + 32] = "";
		IpNetworkList list;
		char		err[128] = "";
		int			j;

		for (j = 0; j <= IPADDR_LIST_MAX; j++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "10.0.%d.0/24,", j);
		UNIT_CHECK(!ipaddr_parse_list(text, &list, err, sizeof(err)),
				   "list of %d networks accepted", IPADDR_LIST_MAX + 1);
		UNIT_CHECK(strstr(err, "more than") != NULL, "too many: message %s", err);
	}
}

/* --- the client behind proxies ----------------------------------------------- */

typedef struct client_case
{
	const char *name;
	const char *trusted;
	const char *peer;
	const char *xff[3];
	const char *want;
	int			taken;
} client_case;

static const client_case client_cases[] = {
	{"no proxies trusted: the peer, whatever the header says", "",
	"203.0.113.7", {"1.1.1.1", NULL}, "203.0.113.7", 0},
	{"untrusted peer: header ignored", "10.0.0.0/8",
	"203.0.113.7", {"1.1.1.1", NULL}, "203.0.113.7", 0},
	{"trusted peer, no header: the peer", "10.0.0.0/8",
	"10.0.0.5", {NULL}, "10.0.0.5", 0},
	{"trusted peer: the right-most entry", "10.0.0.0/8",
	"10.0.0.5", {"198.51.100.1", NULL}, "198.51.100.1", 1},
	{"a forged left entry is never reached", "10.0.0.0/8",
	"10.0.0.5", {"6.6.6.6, 198.51.100.1", NULL}, "198.51.100.1", 1},
	{"a chain of trusted proxies is walked", "10.0.0.0/8",
	"10.0.0.5", {"6.6.6.6, 198.51.100.1, 10.1.1.1, 10.2.2.2", NULL}, "198.51.100.1", 3},
	{"several headers read as one list", "10.0.0.0/8",
	"10.0.0.5", {"6.6.6.6, 198.51.100.1", "10.3.3.3", NULL}, "198.51.100.1", 2},
	{"blanks and tabs around entries", "10.0.0.0/8",
	"10.0.0.5", {" 6.6.6.6 ,\t198.51.100.1\t", NULL}, "198.51.100.1", 1},
	{"all trusted: the left-most", "10.0.0.0/8",
	"10.0.0.5", {"10.9.9.9, 10.8.8.8", NULL}, "10.9.9.9", 2},
	{"garbage stops at the proxy that passed it on", "10.0.0.0/8",
	"10.0.0.5", {"unknown", NULL}, "10.0.0.5", 0},
	{"garbage after a trusted hop", "10.0.0.0/8",
	"10.0.0.5", {"6.6.6.6, garbage, 10.7.7.7", NULL}, "10.7.7.7", 1},
	{"an empty entry is garbage", "10.0.0.0/8",
	"10.0.0.5", {"6.6.6.6,", NULL}, "10.0.0.5", 0},
	{"an empty header is garbage", "10.0.0.0/8",
	"10.0.0.5", {"6.6.6.6", "", NULL}, "10.0.0.5", 0},
	{"a port is garbage", "10.0.0.0/8",
	"10.0.0.5", {"198.51.100.1:5555", NULL}, "10.0.0.5", 0},
	{"IPv6 entries", "::1/128",
	"::1", {"2001:db8::7", NULL}, "2001:db8::7", 1},
	{"bracketed IPv6 entries", "::1/128",
	"::1", {"[2001:db8::7]", NULL}, "2001:db8::7", 1},
	{"a mapped peer is an IPv4 peer", "127.0.0.1",
	"::ffff:127.0.0.1", {"198.51.100.9", NULL}, "198.51.100.9", 1},
};

static void
test_client(void)
{
	size_t		i;

	for (i = 0; i < sizeof(client_cases) / sizeof(client_cases[0]); i++)
	{
		const client_case *c = &client_cases[i];
		IpNetworkList trusted;
		IpAddr		peer;
		IpAddr		got;
		char		text[IPADDR_TEXT_MAX];
		size_t		n = 0;
		int			taken;

		while (n < 3 && c->xff[n] != NULL)
			n++;
		UNIT_CHECK(ipaddr_parse_list(c->trusted, &trusted, NULL, 0), "%s: list", c->name);
		UNIT_CHECK(ipaddr_parse(c->peer, strlen(c->peer), &peer), "%s: peer", c->name);
		taken = ipaddr_client(&peer, c->xff, n, &trusted, &got);
		ipaddr_format(&got, text);
		UNIT_CHECK(strcmp(text, c->want) == 0, "%s: got %s, want %s", c->name, text, c->want);
		UNIT_CHECK(taken == c->taken, "%s: took %d entries, want %d", c->name, taken, c->taken);
	}

	/* a header of more trusted hops than are read: stops, never loops on */
	{
		char		header[IPADDR_HOPS_MAX * 12 + 64] = "198.51.100.1";
		const char *xff[1] = {header};
		IpNetworkList trusted;
		IpAddr		peer;
		IpAddr		got;
		char		text[IPADDR_TEXT_MAX];
		int			j;

		for (j = 0; j < IPADDR_HOPS_MAX + 5; j++)
			snprintf(header + strlen(header), sizeof(header) - strlen(header), ",10.0.0.%d", j % 250);
		(void) ipaddr_parse_list("10.0.0.0/8", &trusted, NULL, 0);
		(void) ipaddr_parse("10.0.0.1", 8, &peer);
		UNIT_CHECK(ipaddr_client(&peer, xff, 1, &trusted, &got) == IPADDR_HOPS_MAX,
				   "hops capped at %d", IPADDR_HOPS_MAX);
		ipaddr_format(&got, text);
		UNIT_CHECK(strncmp(text, "10.0.0.", 7) == 0, "capped walk ends on a trusted hop: %s", text);
	}
}

int
main(void)
{
	test_addresses();
	test_lists();
	test_client();
	return UNIT_MAIN_END();
}
