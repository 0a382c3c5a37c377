/*
 * test_pii.c
 *		Table-driven tests of core/pii: every detector with positives and
 *		near misses, precedence, adjacent findings, boundaries (start and end
 *		of input, JSON strings, after '=' and ':'), invalid UTF-8 and NUL
 *		bytes, every masking style of every type, HMAC determinism, buffer
 *		space errors, and large and adversarial inputs (no crash, linear
 *		time).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pii.h"

#define JWT_HS \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxNzY0MDAwMDAwfQ." \
	"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
#define JWT_NONE "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."
#define JWE \
	"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6ji.XFBoMYUZodetZdvTiFvSkQ"
#define WDN_KEY "wdn_abcdef012345_Zx9-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab"
#define WRT_TOKEN "wrt_Zx9-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab"

/* --- detection ------------------------------------------------------------- */

typedef struct want
{
	pii_type	type;
	const char *value;			/* NULL ends the list */
} want;

typedef struct detect_case
{
	const char *name;
	const char *text;
	size_t		len;			/* 0: strlen(text) */
	uint32_t	types;			/* 0: PII_ALL */
	want		want[4];
} detect_case;

#define NONE {{0, NULL}}

static const detect_case detect_cases[] = {
	/* email */
	{"email plain", "mail alice@example.com now", 0, 0, {{PII_EMAIL, "alice@example.com"}}},
	{"email subdomain and tag", "to Bob.Smith+news@mail.example.org.", 0, 0,
	{{PII_EMAIL, "Bob.Smith+news@mail.example.org"}}},
	{"email utf-8 local part", "von zo\xc3\xab@example.net", 0, 0,
	{{PII_EMAIL, "zo\xc3\xab@example.net"}}},
	{"email in angle brackets", "From: Carol <carol_1@example.com>", 0, 0,
	{{PII_EMAIL, "carol_1@example.com"}}},
	{"email in a json string", "{\"email\":\"dave@example.com\"}", 0, 0,
	{{PII_EMAIL, "dave@example.com"}}},
	{"email in a query string", "GET /?user=erin@example.com&page=2", 0, 0,
	{{PII_EMAIL, "erin@example.com"}}},
	{"email at start and end", "frank@example.org", 0, 0, {{PII_EMAIL, "frank@example.org"}}},
	{"email near miss: no tld", "root@localhost failed", 0, 0, NONE},
	{"email near miss: pg prefix", "2026-11-25 17:54:40 UTC [42] app@orders LOG:  x", 0, 0, NONE},
	{"email near miss: package version", "installed pkg@1.2.3", 0, 0, NONE},
	{"email near miss: mention", "ping @channel now", 0, 0, NONE},
	{"email near miss: word goes on", "alice@example.com_old", 0, 0, NONE},
	{"email near miss: local ends with dot", "john.@example.com", 0, 0, NONE},
	{"email near miss: label starts with dash", "a@-example.com", 0, 0, NONE},

	/* phone */
	{"phone e164 spaced", "call +1 (415) 555-0132 now", 0, 0, {{PII_PHONE, "+1 (415) 555-0132"}}},
	{"phone e164 compact", "tel:+14155550132", 0, 0, {{PII_PHONE, "+14155550132"}}},
	{"phone e164 uk", "+44 20 7946 0958.", 0, 0, {{PII_PHONE, "+44 20 7946 0958"}}},
	{"phone e164 trunk in parens", "+44 (0)20 7946 0958", 0, 0, {{PII_PHONE, "+44 (0)20 7946 0958"}}},
	{"phone e164 france", "+33 1 99 00 12 34", 0, 0, {{PII_PHONE, "+33 1 99 00 12 34"}}},
	{"phone nanp parens", "(415) 555-0132", 0, 0, {{PII_PHONE, "(415) 555-0132"}}},
	{"phone nanp dashes", "phone=415-555-0132;", 0, 0, {{PII_PHONE, "415-555-0132"}}},
	{"phone nanp dots", "415.555.0132", 0, 0, {{PII_PHONE, "415.555.0132"}}},
	{"phone nanp leading 1", "1-800-555-0199", 0, 0, {{PII_PHONE, "1-800-555-0199"}}},
	{"phone uk national", "020 7946 0958", 0, 0, {{PII_PHONE, "020 7946 0958"}}},
	{"phone uk mobile", "07700 900123", 0, 0, {{PII_PHONE, "07700 900123"}}},
	{"phone fr national", "01 23 45 67 89", 0, 0, {{PII_PHONE, "01 23 45 67 89"}}},
	{"phone near miss: bare digits", "order 4155550132", 0, 0, NONE},
	{"phone near miss: seven digits", "call 555-0100", 0, 0, NONE},
	{"phone near miss: time zone", "2026-11-25T17:54:40+01:00", 0, 0, NONE},
	{"phone near miss: short e164", "+1234567", 0, 0, NONE},
	{"phone near miss: goes on", "415-555-0132-99", 0, 0, NONE},
	{"phone near miss: area 1xx", "155-555-0132", 0, 0, NONE},
	{"phone near miss: thousands", "rows 1,234,567,890", 0, 0, NONE},
	{"phone near miss: iban tail", "NL41 LPQY 0989 2859 13", 0, 0, NONE},

	/* card */
	{"card spaced", "card 4242 4242 4242 4242 ok", 0, 0, {{PII_CARD, "4242 4242 4242 4242"}}},
	{"card dashed", "4242-4242-4242-4242", 0, 0, {{PII_CARD, "4242-4242-4242-4242"}}},
	{"card contiguous", "pan=4012888888881881&x", 0, 0, {{PII_CARD, "4012888888881881"}}},
	{"card amex grouped", "3782 822463 10005", 0, 0, {{PII_CARD, "3782 822463 10005"}}},
	{"card amex contiguous", "378282246310005", 0, 0, {{PII_CARD, "378282246310005"}}},
	{"card mastercard 2-series", "2223003122003222", 0, 0, {{PII_CARD, "2223003122003222"}}},
	{"card 19 digits grouped", "6200 0000 0000 0000 000", 0, 0,
	{{PII_CARD, "6200 0000 0000 0000 000"}}},
	{"card in parens", "(6011111111111117)", 0, 0, {{PII_CARD, "6011111111111117"}}},
	{"card in json", "{\"card\":\"5555555555554444\"}", 0, 0, {{PII_CARD, "5555555555554444"}}},
	{"card then expiry", "4242 4242 4242 4242 12/27", 0, 0, {{PII_CARD, "4242 4242 4242 4242"}}},
	{"card near miss: luhn", "4242424242424241", 0, 0, NONE},
	{"card near miss: luhn grouped", "4242 4242 4242 4241", 0, 0, NONE},
	{"card near miss: prefix 1", "1234567812345670", 0, 0, NONE},
	{"card near miss: prefix 9", "9999999999999995", 0, 0, NONE},
	{"card near miss: epoch ms", "ts=1764093280123", 0, 0, NONE},
	{"card near miss: twenty digits", "id 42424242424242424242", 0, 0, NONE},
	{"card near miss: five groups", "4242 4242 4242 4242 4242", 0, 0, NONE},
	{"card near miss: mixed separators", "4242 4242-4242 4242", 0, 0, NONE},
	{"card near miss: inside word", "x4242424242424242", 0, 0, NONE},

	/* iban */
	{"iban grouped", "IBAN DE89 3704 0044 0532 0130 00, EUR", 0, 0,
	{{PII_IBAN, "DE89 3704 0044 0532 0130 00"}}},
	{"iban compact", "iban=DE89370400440532013000", 0, 0, {{PII_IBAN, "DE89370400440532013000"}}},
	{"iban gb letters", "GB82WEST12345698765432", 0, 0, {{PII_IBAN, "GB82WEST12345698765432"}}},
	{"iban gb grouped", "GB82 WEST 1234 5698 7654 32", 0, 0, {{PII_IBAN, "GB82 WEST 1234 5698 7654 32"}}},
	{"iban nl", "NL91ABNA0417164300", 0, 0, {{PII_IBAN, "NL91ABNA0417164300"}}},
	{"iban fr with letter", "FR1420041010050500013M02606", 0, 0, {{PII_IBAN, "FR1420041010050500013M02606"}}},
	{"iban norway shortest", "NO9386011117947", 0, 0, {{PII_IBAN, "NO9386011117947"}}},
	{"iban near miss: check digits", "DE89370400440532013001", 0, 0, NONE},
	{"iban near miss: length", "DE8937040044053201300", 0, 0, NONE},
	{"iban near miss: lower case", "de89370400440532013000", 0, 0, NONE},
	{"iban near miss: unknown country", "ZZ89370400440532013000", 0, 0, NONE},
	{"iban near miss: goes on", "DE89370400440532013000X", 0, 0, NONE},

	/* ipv4 */
	{"ipv4 plain", "from 192.0.2.1 port 22", 0, 0, {{PII_IPV4, "192.0.2.1"}}},
	{"ipv4 with port", "127.0.0.1:8080", 0, 0, {{PII_IPV4, "127.0.0.1"}}},
	{"ipv4 cidr", "allow 10.0.0.0/8;", 0, 0, {{PII_IPV4, "10.0.0.0"}}},
	{"ipv4 bracketed", "relay=mx[198.51.100.23]:25", 0, 0, {{PII_IPV4, "198.51.100.23"}}},
	{"ipv4 range", "203.0.113.5-203.0.113.9", 0, 0,
	{{PII_IPV4, "203.0.113.5"}, {PII_IPV4, "203.0.113.9"}}},
	{"ipv4 list", "xff=192.0.2.1,198.51.100.2", 0, 0,
	{{PII_IPV4, "192.0.2.1"}, {PII_IPV4, "198.51.100.2"}}},
	{"ipv4 near miss: five parts", "version 1.2.3.4.5", 0, 0, NONE},
	{"ipv4 near miss: v prefix", "v1.2.3.4", 0, 0, NONE},
	{"ipv4 near miss: octet", "256.1.2.3", 0, 0, NONE},
	{"ipv4 near miss: three parts", "1.2.3", 0, 0, NONE},
	{"ipv4 near miss: leading zeros", "192.168.001.001", 0, 0, NONE},
	{"ipv4 near miss: user agent", "Chrome/120.0.6099.109 Safari/537.36", 0, 0, NONE},
	{"ipv4 near miss: oid", "oid 1.3.6.1.4.1", 0, 0, NONE},

	/* ipv6 */
	{"ipv6 compressed", "peer=2001:db8::1 ok", 0, 0, {{PII_IPV6, "2001:db8::1"}}},
	{"ipv6 mixed", "2001:db8:85a3::8a2e:370:7334", 0, 0, {{PII_IPV6, "2001:db8:85a3::8a2e:370:7334"}}},
	{"ipv6 full", "2001:0db8:0000:0000:0000:ff00:0042:8329", 0, 0,
	{{PII_IPV6, "2001:0db8:0000:0000:0000:ff00:0042:8329"}}},
	{"ipv6 link local with zone", "fe80::1ff:fe23:4567:890a%eth0", 0, 0,
	{{PII_IPV6, "fe80::1ff:fe23:4567:890a"}}},
	{"ipv6 mapped ipv4", "::ffff:192.0.2.128", 0, 0, {{PII_IPV6, "::ffff:192.0.2.128"}}},
	{"ipv6 bracketed with port", "[2001:db8::2]:443", 0, 0, {{PII_IPV6, "2001:db8::2"}}},
	{"ipv6 after key", "addr:2001:db8::5", 0, 0, {{PII_IPV6, "2001:db8::5"}}},
	{"ipv6 prefix", "route 2001:db8::/32", 0, 0, {{PII_IPV6, "2001:db8::"}}},
	{"ipv6 upper case", "2001:DB8::C0FF:EE", 0, 0, {{PII_IPV6, "2001:DB8::C0FF:EE"}}},
	{"ipv6 near miss: clock", "at 12:30:45 today", 0, 0, NONE},
	{"ipv6 near miss: mac", "mac 00:1a:2b:3c:4d:5e", 0, 0, NONE},
	{"ipv6 near miss: c++", "std::vector<int> Foo::Bar a::b", 0, 0, NONE},
	{"ipv6 near miss: sql casts", "SELECT '1'::int, 12::date, $1::text", 0, 0, NONE},
	{"ipv6 near miss: two double colons", "1::2::3", 0, 0, NONE},
	{"ipv6 near miss: loopback", "::1", 0, 0, NONE},
	{"ipv6 near miss: nine groups", "1:2:3:4:5:6:7:8:9", 0, 0, NONE},
	{"ipv6 near miss: iso time", "2026-11-25T17:54:40.123Z", 0, 0, NONE},

	/* ssn */
	{"ssn plain", "ssn 123-45-6789.", 0, 0, {{PII_SSN, "123-45-6789"}}},
	{"ssn quoted", "VALUES ('078-05-1120')", 0, 0, {{PII_SSN, "078-05-1120"}}},
	{"ssn near miss: area 000", "000-12-3456", 0, 0, NONE},
	{"ssn near miss: area 666", "666-12-3456", 0, 0, NONE},
	{"ssn near miss: area 9xx", "900-12-3456", 0, 0, NONE},
	{"ssn near miss: group 00", "123-00-6789", 0, 0, NONE},
	{"ssn near miss: serial 0000", "123-45-0000", 0, 0, NONE},
	{"ssn near miss: short", "123-45-678", 0, 0, NONE},
	{"ssn near miss: date", "2026-11-25", 0, 0, NONE},
	{"ssn near miss: goes on", "123-45-6789-1", 0, 0, NONE},

	/* jwt */
	{"jwt plain", "token " JWT_HS " expired", 0, 0, {{PII_JWT, JWT_HS}}},
	{"jwt end of sentence", "see " JWT_HS ".", 0, 0, {{PII_JWT, JWT_HS}}},
	{"jwt unsigned", JWT_NONE " x", 0, 0, {{PII_JWT, JWT_NONE}}},
	{"jwt jwe", "enc " JWE, 0, 0, {{PII_JWT, JWE}}},
	{"jwt near miss: header only", "eyJhbGciOiJIUzI1NiJ9", 0, 0, NONE},
	{"jwt near miss: two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", 0, 0, NONE},
	{"jwt near miss: four segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc.def", 0, 0, NONE},
	{"jwt near miss: inside a token", "x-" JWT_HS, 0, 0, NONE},

	/* bearer */
	{"bearer jwt", "Authorization: Bearer " JWT_HS, 0, 0, {{PII_BEARER, JWT_HS}}},
	{"bearer opaque lower case", "authorization: bearer 8f3k2j5h6g7f8d9s0a1q", 0, 0,
	{{PII_BEARER, "8f3k2j5h6g7f8d9s0a1q"}}},
	{"bearer warden key", "Authorization: Bearer " WDN_KEY "\r\n", 0, 0, {{PII_BEARER, WDN_KEY}}},
	{"bearer padded", "Bearer dGhpcyBpcyBhIHRva2VuIQ==,", 0, 0,
	{{PII_BEARER, "dGhpcyBpcyBhIHRva2VuIQ=="}}},
	{"bearer off finds jwt", "Authorization: Bearer " JWT_HS, 0,
		PII_ALL & ~PII_BIT(PII_BEARER), {{PII_JWT, JWT_HS}}},
	{"bearer near miss: prose", "missing Bearer token in request", 0, 0, NONE},
	{"bearer near miss: token type", "{\"token_type\":\"Bearer\"}", 0, 0, NONE},
	{"bearer near miss: challenge", "WWW-Authenticate: Bearer realm=\"api\"", 0, 0, NONE},
	{"bearer near miss: long word", "Bearer authenticationrequired now", 0, 0, NONE},

	/* warden's keys */
	{"api key", "key " WDN_KEY " leaked", 0, 0, {{PII_API_KEY, WDN_KEY}}},
	{"refresh token", "refresh=" WRT_TOKEN ".", 0, 0, {{PII_API_KEY, WRT_TOKEN}}},
	{"api key near miss: short", "wdn_short_abc", 0, 0, NONE},
	{"api key near miss: upper case id", "wdn_ABCDEF012345_Zx9-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab", 0, 0, NONE},
	{"api key near miss: 42 chars", "wrt_Zx9-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789a", 0, 0, NONE},
	{"api key near miss: 44 chars", "wrt_Zx9-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abc", 0, 0, NONE},
	{"api key near miss: inside word", "xwrt_Zx9-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab", 0, 0, NONE},

	/* secret */
	{"secret equals", "user=bob password=hunter2 host=db", 0, 0, {{PII_SECRET, "hunter2"}}},
	{"secret spaced equals", "password = hunter2", 0, 0, {{PII_SECRET, "hunter2"}}},
	{"secret json", "{\"password\": \"s3 cr3t\"}", 0, 0, {{PII_SECRET, "s3 cr3t"}}},
	{"secret single quotes", "{'client_secret':'abc'}", 0, 0, {{PII_SECRET, "abc"}}},
	{"secret yaml", "  api_key: abc123\n", 0, 0, {{PII_SECRET, "abc123"}}},
	{"secret header", "X-Api-Key: abcdef", 0, 0, {{PII_SECRET, "abcdef"}}},
	{"secret env", "PGPASSWORD=x", 0, 0, {{PII_SECRET, "x"}}},
	{"secret camel case", "dbPassword=x1", 0, 0, {{PII_SECRET, "x1"}}},
	{"secret aws", "AWS_SECRET_ACCESS_KEY=abc/def+ghi", 0, 0, {{PII_SECRET, "abc/def+ghi"}}},
	{"secret escaped json", "msg=\"{\\\"password\\\":\\\"p@ss\\\"}\"", 0, 0, {{PII_SECRET, "p@ss"}}},
	{"secret sql", "ALTER ROLE bob WITH PASSWORD 'hunter2';", 0, 0, {{PII_SECRET, "hunter2"}}},
	{"secret url", "postgresql://app:s3cret@db.example.com:5432/orders", 0, 0,
	{{PII_SECRET, "s3cret"}}},
	{"secret url without user", "redis://:pw@cache:6379", 0, 0, {{PII_SECRET, "pw"}}},
	{"secret cookie", "Cookie: session_id=abc123; theme=dark", 0, 0, {{PII_SECRET, "abc123"}}},
	{"secret ruby hash", "password => 'x'", 0, 0, {{PII_SECRET, "x"}}},
	{"secret odbc", "Uid=sa;Pwd=s3;", 0, 0, {{PII_SECRET, "s3"}}},
	{"secret wins over email", "password=alice@example.com", 0, 0,
	{{PII_SECRET, "alice@example.com"}}},
	{"secret wins over jwt", "{\"access_token\":\"" JWT_HS "\"}", 0, 0, {{PII_SECRET, JWT_HS}}},
	{"secret wins over key", "api_key=" WDN_KEY, 0, 0, {{PII_SECRET, WDN_KEY}}},
	{"secret off finds email", "password=alice@example.com", 0,
		PII_ALL & ~PII_BIT(PII_SECRET), {{PII_EMAIL, "alice@example.com"}}},
	{"secret near miss: null", "password=null", 0, 0, NONE},
	{"secret near miss: empty", "password=\"\" api_key=", 0, 0, NONE},
	{"secret near miss: stars", "password=********", 0, 0, NONE},
	{"secret near miss: placeholder", "password=\"[FILTERED]\" token=[REDACTED]", 0, 0, NONE},
	{"secret near miss: mask token", "password=\"[SECRET]\" x=\"[SECRET:0123456789ab]\"", 0, 0, NONE},
	{"secret near miss: prose", "invalid token: signature mismatch", 0, 0, NONE},
	{"secret near miss: other keys", "password_changed=true max_tokens=1024 secretary=bob", 0, 0, NONE},
	{"secret near miss: shell pwd", "PWD=/home/alice", 0, 0, NONE},
	{"secret near miss: comparison", "if password==x", 0, 0, NONE},
	{"secret near miss: unterminated", "password=\"abc\nnext", 0, 0, NONE},

	/* several, adjacent, boundaries */
	{"adjacent emails", "a@example.com,b@example.org;c@example.net", 0, 0,
	{{PII_EMAIL, "a@example.com"}, {PII_EMAIL, "b@example.org"}, {PII_EMAIL, "c@example.net"}}},
	{"card then phone", "4242424242424242(415) 555-0132", 0, 0,
	{{PII_CARD, "4242424242424242"}, {PII_PHONE, "(415) 555-0132"}}},
	{"ipv6 then ipv4", "[2001:db8::c17]:25310 -> 192.0.2.122:443", 0, 0,
	{{PII_IPV6, "2001:db8::c17"}, {PII_IPV4, "192.0.2.122"}}},
	{"mixed json line", "{\"ip\":\"192.0.2.9\",\"ssn\":\"123-45-6789\",\"email\":\"x@example.com\"}", 0, 0,
	{{PII_IPV4, "192.0.2.9"}, {PII_SSN, "123-45-6789"}, {PII_EMAIL, "x@example.com"}}},
	{"type mask selects", "alice@example.com 192.0.2.1", 0, PII_BIT(PII_IPV4),
	{{PII_IPV4, "192.0.2.1"}}},
	{"no types", "alice@example.com", 0, PII_BIT(PII_TYPE_COUNT), NONE},
	{"invalid utf-8 around", "\xff\xfe " "alice@example.com\xc3 192.0.2.1\x80", 0, 0,
	{{PII_EMAIL, "alice@example.com"}, {PII_IPV4, "192.0.2.1"}}},
	{"nul bytes are boundaries", "192.0.2.1\0" "4242424242424242\0x", 28, 0,
	{{PII_IPV4, "192.0.2.1"}, {PII_CARD, "4242424242424242"}}},
	{"nul inside an email", "alice\0@example.com", 18, 0, NONE},
	{"empty", "", 0, 0, NONE},
	{"masked text scans clean", "[EMAIL] [CARD:0123456789ab] a***@example.com ****-****-****-4242 "
		"***-**-6789 192.*.*.* 2001:db8:* +* (***) ***-**32 password=[SECRET]", 0, 0, NONE},
};

static void
test_detect_table(void)
{
	size_t		i;

	for (i = 0; i < sizeof(detect_cases) / sizeof(detect_cases[0]); i++)
	{
		const detect_case *c = &detect_cases[i];
		size_t		len = c->len ? c->len : strlen(c->text);
		uint32_t	types = c->types ? c->types & PII_ALL : PII_ALL;
		pii_finding got[8];
		size_t		n = 0;
		size_t		nwant = 0;
		size_t		from = 0;
		pii_status	st;
		size_t		k;

		if (c->types == PII_BIT(PII_TYPE_COUNT))
			types = 0;
		while (nwant < 4 && c->want[nwant].value != NULL)
			nwant++;
		st = pii_scan(c->text, len, types, got, 8, &n);
		UNIT_CHECK(st == PII_OK, "%s: status %s", c->name, pii_strerror(st));
		UNIT_CHECK(n == nwant, "%s: %zu findings, want %zu", c->name, n, nwant);
		for (k = 0; k < n && k < nwant; k++)
		{
			const char *v = c->want[k].value;
			const char *hit = memmem(c->text + from, len - from, v, strlen(v));
			size_t		off = hit ? (size_t) (hit - c->text) : (size_t) -1;

			UNIT_CHECK(got[k].type == c->want[k].type, "%s: finding %zu is %s, want %s",
					   c->name, k, pii_type_name(got[k].type),
					   pii_type_name(c->want[k].type));
			UNIT_CHECK(got[k].offset == off && got[k].length == strlen(v),
					   "%s: finding %zu at [%zu,%zu) \"%.*s\", want \"%s\"", c->name, k,
					   got[k].offset, got[k].offset + got[k].length,
					   (int) got[k].length, c->text + got[k].offset, v);
			if (hit)
				from = off + strlen(v);
		}
		for (; k < n; k++)
			printf("#   %s: extra %s \"%.*s\"\n", c->name, pii_type_name(got[k].type),
				   (int) got[k].length, c->text + got[k].offset);
	}
}

/* The iterator and pii_scan agree, and counting works without an array. */
static void
test_scan_api(void)
{
	const char *text = "a@example.com 192.0.2.1 b@example.org 123-45-6789";
	pii_finding got[2];
	pii_finding f;
	pii_scanner s;
	size_t		n = 99;
	size_t		k = 0;

	UNIT_CHECK(pii_scan(text, strlen(text), PII_ALL, NULL, 0, &n) == PII_ERR_SPACE &&
			   n == 4, "count without array: %zu", n);
	UNIT_CHECK(pii_scan(text, strlen(text), PII_ALL, got, 2, &n) == PII_ERR_SPACE &&
			   n == 4 && got[0].type == PII_EMAIL && got[1].type == PII_IPV4,
			   "short array holds the first findings");
	UNIT_CHECK(pii_scan(NULL, 0, PII_ALL, NULL, 0, &n) == PII_OK && n == 0,
			   "NULL empty text");
	UNIT_CHECK(pii_scan(text, 3, PII_ALL, NULL, 1, &n) == PII_ERR_ARG,
			   "NULL array with max > 0");
	pii_scanner_init(&s, text, strlen(text), PII_ALL);
	while (pii_scanner_next(&s, &f))
		k++;
	UNIT_CHECK(k == 4, "iterator finds %zu", k);
	UNIT_CHECK(!pii_scanner_next(&s, &f), "iterator stays at the end");
}

static void
test_names(void)
{
	int			t;
	pii_type	pt;
	pii_style	ps;

	for (t = 0; t < PII_TYPE_COUNT; t++)
	{
		const char *name = pii_type_name((pii_type) t);

		UNIT_CHECK(name != NULL && pii_type_parse(name, strlen(name), &pt) &&
				   pt == (pii_type) t, "type %d round trip", t);
	}
	UNIT_CHECK(strcmp(pii_type_name(PII_API_KEY), "api_key") == 0, "api_key name");
	UNIT_CHECK(pii_type_parse("EMAIL", 5, &pt) && pt == PII_EMAIL, "type parse ignores case");
	UNIT_CHECK(!pii_type_parse("mail", 4, &pt), "unknown type");
	UNIT_CHECK(!pii_type_parse("emailx", 5 + 1, &pt), "type with trailing garbage");
	UNIT_CHECK(pii_type_name((pii_type) PII_TYPE_COUNT) == NULL, "type out of range");
	UNIT_CHECK(pii_style_parse("Partial", 7, &ps) && ps == PII_STYLE_PARTIAL, "style parse");
	UNIT_CHECK(pii_style_parse("off", 3, &ps) && ps == PII_STYLE_OFF, "style off");
	UNIT_CHECK(!pii_style_parse("redact", 6, &ps), "unknown style");
	UNIT_CHECK(strcmp(pii_style_name(PII_STYLE_HASH), "hash") == 0, "style name");
	UNIT_CHECK(strcmp(pii_strerror(PII_ERR_SPACE), "output buffer too small") == 0,
			   "strerror");
}

/* --- masking --------------------------------------------------------------- */

static const unsigned char mask_key[] = "warden-test-key-0123456789";

typedef struct mask_case
{
	const char *name;
	const char *text;
	const char *full;
	const char *partial;
	const char *hashed;			/* the value hashed: normalised */
	const char *hash_prefix;	/* text before the token */
	const char *hash_suffix;	/* text after it */
	pii_type	type;
} mask_case;

static const mask_case mask_cases[] = {
	{"email", "to Alice.Smith@Example.com.", "to [EMAIL].", "to A***@Example.com.",
	"alice.smith@example.com", "to ", ".", PII_EMAIL},
	{"email utf-8 first character", "\xc3\xa9lo\xc3\xafse@example.com",
		"[EMAIL]", "\xc3\xa9***@example.com", "\xc3\xa9lo\xc3\xafse@example.com", "", "",
	PII_EMAIL},
	{"phone", "tel +1 (415) 555-0132", "tel [PHONE]", "tel +* (***) ***-**32",
	"+14155550132", "tel ", "", PII_PHONE},
	{"phone national", "020 7946 0958", "[PHONE]", "*** **** **58", "02079460958", "", "",
	PII_PHONE},
	{"card dashed", "4242-4242-4242-4242", "[CARD]", "****-****-****-4242",
	"4242424242424242", "", "", PII_CARD},
	{"card spaced", "4242 4242 4242 4242", "[CARD]", "**** **** **** 4242",
	"4242424242424242", "", "", PII_CARD},
	{"card contiguous", "4242424242424242", "[CARD]", "************4242",
	"4242424242424242", "", "", PII_CARD},
	{"iban", "DE89 3704 0044 0532 0130 00", "[IBAN]", "DE** **** **** **** **30 00",
	"DE89370400440532013000", "", "", PII_IBAN},
	{"iban compact", "GB82WEST12345698765432", "[IBAN]", "GB****************5432",
	"GB82WEST12345698765432", "", "", PII_IBAN},
	{"ipv4", "ip=192.0.2.1:80", "ip=[IPV4]:80", "ip=192.*.*.*:80", "192.0.2.1",
	"ip=", ":80", PII_IPV4},
	{"ipv6", "2001:DB8::1", "[IPV6]", "2001:DB8:*", "2001:db8::1", "", "", PII_IPV6},
	{"ipv6 short", "fe80::1ff", "[IPV6]", "fe80:*", "fe80::1ff", "", "", PII_IPV6},
	{"ipv6 mapped", "::ffff:192.0.2.1", "[IPV6]", "::*", "::ffff:192.0.2.1", "", "",
	PII_IPV6},
	{"ssn", "123-45-6789", "[SSN]", "***-**-6789", "123456789", "", "", PII_SSN},
	{"jwt", JWT_HS, "[JWT]", "[JWT]", JWT_HS, "", "", PII_JWT},
	{"bearer", "Authorization: Bearer abcdef0123456789ABCD", "Authorization: Bearer [BEARER]",
		"Authorization: Bearer [BEARER]", "abcdef0123456789ABCD", "Authorization: Bearer ", "",
	PII_BEARER},
	{"api key", WDN_KEY, "[API_KEY]", "[API_KEY]", WDN_KEY, "", "", PII_API_KEY},
	{"refresh token", WRT_TOKEN, "[API_KEY]", "[API_KEY]", WRT_TOKEN, "", "", PII_API_KEY},
	{"secret", "password=hunter2 ok", "password=[SECRET] ok", "password=[SECRET] ok",
	"hunter2", "password=", " ok", PII_SECRET},
};

static void
hash_token(pii_type type, const char *value, const unsigned char *key,
		   size_t keylen, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char		label[16];
	size_t		k;

	HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) value,
		 strlen(value), md, &mdlen);
	for (k = 0; pii_type_name(type)[k]; k++)
		label[k] = (char) (pii_type_name(type)[k] - ('a' <= pii_type_name(type)[k] &&
													 pii_type_name(type)[k] <= 'z' ? 32 : 0));
	label[k] = '\0';
	sprintf(out, "[%s:", label);
	for (k = 0; k < 6; k++)
		sprintf(out + strlen(out), "%02x", md[k]);
	strcat(out, "]");
}

static void
mask_one(const char *text, const pii_mask_config *cfg, char *out, size_t size,
		 size_t *len, pii_status *st)
{
	*st = pii_mask(text, strlen(text), cfg, out, size, len);
}

static void
test_mask_table(void)
{
	size_t		i;

	for (i = 0; i < sizeof(mask_cases) / sizeof(mask_cases[0]); i++)
	{
		const mask_case *c = &mask_cases[i];
		pii_mask_config cfg;
		char		out[1024];
		char		want[1024];
		char		tok[64];
		size_t		len;
		pii_status	st;

		pii_mask_config_init(&cfg, PII_STYLE_FULL);
		mask_one(c->text, &cfg, out, sizeof(out), &len, &st);
		UNIT_CHECK(st == PII_OK, "%s full: %s", c->name, pii_strerror(st));
		UNIT_CHECK_MEM(out, len, c->full, strlen(c->full), "%s: full", c->name);

		pii_mask_config_init(&cfg, PII_STYLE_PARTIAL);
		mask_one(c->text, &cfg, out, sizeof(out), &len, &st);
		UNIT_CHECK_MEM(out, len, c->partial, strlen(c->partial), "%s: partial", c->name);

		pii_mask_config_init(&cfg, PII_STYLE_HASH);
		cfg.hmac_key = mask_key;
		cfg.hmac_key_len = sizeof(mask_key) - 1;
		mask_one(c->text, &cfg, out, sizeof(out), &len, &st);
		hash_token(c->type, c->hashed, mask_key, sizeof(mask_key) - 1, tok);
		snprintf(want, sizeof(want), "%s%s%s", c->hash_prefix, tok, c->hash_suffix);
		UNIT_CHECK_MEM(out, len, want, strlen(want), "%s: hash", c->name);

		/* off for this type leaves it alone (the others are full) */
		pii_mask_config_init(&cfg, PII_STYLE_FULL);
		cfg.style[c->type] = PII_STYLE_OFF;
		cfg.style[PII_JWT] = c->type == PII_BEARER || c->type == PII_SECRET ?
			PII_STYLE_OFF : cfg.style[PII_JWT];
		mask_one(c->text, &cfg, out, sizeof(out), &len, &st);
		if (c->type == PII_IPV6 && strstr(c->text, "192.0.2.1"))
			continue;			/* its dotted quad is an IPv4 of its own */
		UNIT_CHECK_MEM(out, len, c->text, strlen(c->text), "%s: off", c->name);
	}
}

/* A style per type, in one text; a zeroed config masks nothing. */
static void
test_mask_mixed(void)
{
	const char *text = "alice@example.com 192.0.2.1 4242-4242-4242-4242 password=x";
	const char *want = "a***@example.com [IPV4] 4242-4242-4242-4242 password=[SECRET]";
	pii_mask_config cfg;
	char		out[256];
	size_t		len;

	memset(&cfg, 0, sizeof(cfg));
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, sizeof(out), &len) == PII_OK,
			   "zeroed config");
	UNIT_CHECK_MEM(out, len, text, strlen(text), "zeroed config masks nothing");
	cfg.style[PII_EMAIL] = PII_STYLE_PARTIAL;
	cfg.style[PII_IPV4] = PII_STYLE_FULL;
	cfg.style[PII_SECRET] = PII_STYLE_PARTIAL;
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, sizeof(out), &len) == PII_OK,
			   "mixed config");
	UNIT_CHECK_MEM(out, len, want, strlen(want), "mixed styles");
	UNIT_CHECK(out[len] == '\0', "mixed styles terminated");
}

static void
test_hash_determinism(void)
{
	static const unsigned char other_key[] = "another-key-0123456789";
	const char *text = "a=alice@example.com b=ALICE@EXAMPLE.COM c=bob@example.com";
	pii_mask_config cfg;
	char		out1[256];
	char		out2[256];
	char		out3[256];
	size_t		l1 = 0;
	size_t		l2 = 0;
	size_t		l3 = 0;
	char		t1[32];
	char		t2[32];
	char		t3[32];

	pii_mask_config_init(&cfg, PII_STYLE_HASH);
	cfg.hmac_key = mask_key;
	cfg.hmac_key_len = sizeof(mask_key) - 1;
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out1, sizeof(out1), &l1) == PII_OK &&
			   pii_mask(text, strlen(text), &cfg, out2, sizeof(out2), &l2) == PII_OK,
			   "hash masks");
	UNIT_CHECK_MEM(out1, l1, out2, l2, "same key, same output");
	UNIT_CHECK(sscanf(out1, "a=%21s b=%21s c=%21s", t1, t2, t3) == 3, "three tokens");
	UNIT_CHECK(strcmp(t1, t2) == 0, "one address in two cases joins: %s %s", t1, t2);
	UNIT_CHECK(strcmp(t1, t3) != 0, "two addresses differ");
	cfg.hmac_key = other_key;
	cfg.hmac_key_len = sizeof(other_key) - 1;
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out3, sizeof(out3), &l3) == PII_OK &&
			   (l3 != l1 || memcmp(out1, out3, l1) != 0), "another key, other tokens");
}

static void
test_mask_errors(void)
{
	const char *text = "mail alice@example.com now";
	const char *want = "mail [EMAIL] now";
	pii_mask_config cfg;
	char		out[64];
	size_t		len = 99;

	pii_mask_config_init(&cfg, PII_STYLE_HASH);
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, sizeof(out), &len) == PII_ERR_KEY &&
			   len == 0, "hash without a key");
	cfg.hmac_key = mask_key;
	cfg.hmac_key_len = PII_HASH_KEY_MIN - 1;
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, sizeof(out), &len) == PII_ERR_KEY,
			   "hash with a short key");
	pii_mask_config_init(&cfg, PII_STYLE_FULL);
	cfg.style[PII_PHONE] = (pii_style) 7;
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, sizeof(out), &len) == PII_ERR_ARG,
			   "unknown style");
	UNIT_CHECK(pii_mask(text, strlen(text), NULL, out, sizeof(out), &len) == PII_ERR_ARG,
			   "NULL config");
	pii_mask_config_init(&cfg, PII_STYLE_FULL);
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, NULL, 0, &len) == PII_ERR_SPACE &&
			   len == strlen(want), "length only: %zu", len);
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, strlen(want), &len) == PII_ERR_SPACE &&
			   len == strlen(want), "no room for the terminator");
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, 5, &len) == PII_ERR_SPACE &&
			   len == strlen(want), "buffer ends inside the text");
	memset(out, 'Z', sizeof(out));
	UNIT_CHECK(pii_mask(text, strlen(text), &cfg, out, strlen(want) + 1, &len) == PII_OK,
			   "exact buffer");
	UNIT_CHECK_MEM(out, len, want, strlen(want), "exact buffer output");
	UNIT_CHECK(out[len] == '\0' && out[len + 1] == 'Z', "terminated, nothing after");
	UNIT_CHECK(pii_mask(NULL, 0, &cfg, out, 1, &len) == PII_OK && len == 0 && out[0] == '\0',
			   "empty text");
	UNIT_CHECK(pii_mask_len_max(0) == 0 && pii_mask_len_max(4) >= 4 + 18 &&
			   pii_mask_len_max(SIZE_MAX / 2) == SIZE_MAX, "pii_mask_len_max");
}

/* The masked length never exceeds pii_mask_len_max, even for dense PII. */
static void
test_mask_bound(void)
{
	const char *texts[] = {"pwd=x", "pwd=x pwd=y\npwd=z", "1::2 1::3", "a@b.co,c@d.co",
	"1.2.3.4 5.6.7.8"};
	pii_mask_config cfg;
	size_t		i;
	int			style;

	for (style = PII_STYLE_FULL; style <= PII_STYLE_HASH; style++)
	{
		pii_mask_config_init(&cfg, (pii_style) style);
		cfg.hmac_key = mask_key;
		cfg.hmac_key_len = sizeof(mask_key) - 1;
		for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		{
			size_t		need = 0;

			UNIT_CHECK(pii_mask(texts[i], strlen(texts[i]), &cfg, NULL, 0, &need) ==
					   PII_ERR_SPACE && need <= pii_mask_len_max(strlen(texts[i])),
					   "bound, style %d, \"%s\": %zu > %zu", style, texts[i], need,
					   pii_mask_len_max(strlen(texts[i])));
		}
	}
}

/* --- large and adversarial inputs ----------------------------------------- */

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Scans and fully masks text; returns the seconds the scan took. */
static double
scan_and_mask(const char *name, const char *text, size_t len)
{
	pii_scanner s;
	pii_finding f;
	pii_mask_config cfg;
	size_t		n = 0;
	size_t		need = 0;
	size_t		last = 0;
	bool		ordered = true;
	double		t0 = seconds();
	double		t;

	pii_scanner_init(&s, text, len, PII_ALL);
	while (pii_scanner_next(&s, &f))
	{
		ordered = ordered && f.offset >= last && f.length > 0 &&
			f.offset + f.length <= len;
		last = f.offset + f.length;
		n++;
	}
	t = seconds() - t0;
	pii_mask_config_init(&cfg, PII_STYLE_FULL);
	UNIT_CHECK(ordered, "%s: findings ordered and in bounds", name);
	UNIT_CHECK(pii_mask(text, len, &cfg, NULL, 0, &need) == PII_ERR_SPACE &&
			   need <= pii_mask_len_max(len), "%s: mask length bounded", name);
	printf("# %-28s %6.1f MiB  %8zu findings  scan %.3f s\n", name,
		   len / 1048576.0, n, t);
	return t;
}

static char *
repeat(const char *unit, size_t total)
{
	size_t		ul = strlen(unit);
	char	   *buf = malloc(total);
	size_t		k;

	if (!buf)
		abort();
	for (k = 0; k < total; k++)
		buf[k] = unit[k % ul];
	return buf;
}

static void
test_large_inputs(void)
{
	static const char *const units[] = {
		"a@", ":", "password=\"", "1", "1 ", "eyJ", "Bearer ", "::", "a.", "'",
		"\\\"password\\\":\\\"", "4242 ", "+1 ", "wdn_", "[EMAIL", "aaaaaaaaaa@",
		"//u:", "DE89 ", "x=", "Bearer aB3"
	};
	const size_t big = 16u << 20;
	const size_t adv = 4u << 20;
	char	   *buf = malloc(big);
	uint64_t	x = 0x9e3779b97f4a7c15ULL;
	size_t		k;
	double		t;

	if (!buf)
		abort();
	for (k = 0; k < big; k++)
	{
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (char) (x >> 24);
	}
	t = scan_and_mask("16 MiB random bytes", buf, big);
	UNIT_CHECK(t < 30.0, "16 MiB random bytes scanned in %.1f s", t);
	free(buf);

	/* each would be quadratic (hours) if a detector rescanned its input */
	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++)
	{
		char		name[64];

		buf = repeat(units[k], adv);
		snprintf(name, sizeof(name), "4 MiB of \"%s\"", units[k]);
		t = scan_and_mask(name, buf, adv);
		UNIT_CHECK(t < 20.0, "%s scanned in %.1f s", name, t);
		free(buf);
	}
}

int
main(void)
{
	test_detect_table();
	test_scan_api();
	test_names();
	test_mask_table();
	test_mask_mixed();
	test_hash_determinism();
	test_mask_errors();
	test_mask_bound();
	test_large_inputs();
	return UNIT_MAIN_END();
}
