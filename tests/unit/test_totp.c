/*
 * test_totp.c
 *		Table-driven tests of core/totp: the RFC 4226 and RFC 6238 vectors,
 *		the verification window, replay refusal, malformed codes, parameter
 *		limits and otpauth:// URI encoding.
 */
#include "unit.h"

#include "totp.h"

#include <stdint.h>

/* The seed of both RFCs' SHA-1 vectors. */
static const uint8_t rfc_key[] = "12345678901234567890";
#define RFC_KEYLEN 20

/* RFC 4226 Appendix D: HOTP values of counters 0..9, 6 digits. */
static const uint32_t hotp_values[10] = {
	755224, 287082, 359152, 969429, 338314,
	254676, 287922, 162583, 399871, 520489
};

/* RFC 6238 Appendix B, SHA-1 rows: 8 digits, period 30. */
typedef struct totp_case
{
	int64_t		time;
	const char *code;
} totp_case;

static const totp_case totp_cases[] = {
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
};

static void
test_hotp_vectors(void)
{
	for (uint64_t c = 0; c < 10; c++)
	{
		uint32_t	code = 1;
		totp_status st;

		st = totp_code(rfc_key, RFC_KEYLEN, c, 6, &code);
		UNIT_CHECK(st == TOTP_OK, "hotp counter %llu: status %s",
				   (unsigned long long) c, totp_strerror(st));
		UNIT_CHECK(code == hotp_values[c], "hotp counter %llu: got %06u, "
				   "want %06u", (unsigned long long) c, code, hotp_values[c]);
	}
}

static void
test_totp_vectors(void)
{
	for (size_t i = 0; i < sizeof(totp_cases) / sizeof(totp_cases[0]); i++)
	{
		const totp_case *c = &totp_cases[i];
		uint32_t	code;
		char		want[16];
		int64_t		matched;
		totp_status st;

		st = totp_code(rfc_key, RFC_KEYLEN, (uint64_t) (c->time / 30), 8,
					   &code);
		snprintf(want, sizeof(want), "%08u", code);
		UNIT_CHECK(st == TOTP_OK && strcmp(want, c->code) == 0,
				   "totp time %lld: got %s, want %s", (long long) c->time,
				   want, c->code);

		st = totp_verify(rfc_key, RFC_KEYLEN, c->code, c->time, 30, 8, 0, -1,
						 &matched);
		UNIT_CHECK(st == TOTP_OK, "totp time %lld: verify status %s",
				   (long long) c->time, totp_strerror(st));
		UNIT_CHECK(matched == c->time / 30, "totp time %lld: matched step "
				   "%lld", (long long) c->time, (long long) matched);
	}
}

/* The 6-digit code of a step, as text. */
static void
code_of(int64_t step, char *buf)
{
	uint32_t	code = 0;

	totp_code(rfc_key, RFC_KEYLEN, (uint64_t) step, 6, &code);
	snprintf(buf, 16, "%06u", code);
}

typedef struct window_case
{
	const char *name;
	int			offset;			/* the code's step minus now's step */
	int			window;
	int64_t		last_used;		/* relative to now's step; -1000 for none */
	totp_status want;
} window_case;

static const window_case window_cases[] = {
	{"current step", 0, 1, -1000, TOTP_OK},
	{"one step ahead, window 1", 1, 1, -1000, TOTP_OK},
	{"one step behind, window 1", -1, 1, -1000, TOTP_OK},
	{"two steps ahead, window 1", 2, 1, -1000, TOTP_ERR_MISMATCH},
	{"two steps behind, window 1", -2, 1, -1000, TOTP_ERR_MISMATCH},
	{"two steps behind, window 2", -2, 2, -1000, TOTP_OK},
	{"one step behind, window 0", -1, 0, -1000, TOTP_ERR_MISMATCH},
	{"replay of the current step", 0, 1, 0, TOTP_ERR_REPLAY},
	{"replay of the previous step", -1, 1, -1, TOTP_ERR_REPLAY},
	{"previous step after the current was used", -1, 1, 0, TOTP_ERR_REPLAY},
	{"current step after the previous was used", 0, 1, -1, TOTP_OK},
	{"next step after the current was used", 1, 1, 0, TOTP_OK},
};

static void
test_window_and_replay(void)
{
	const int64_t now = 1111111111;
	const int64_t step = now / 30;

	for (size_t i = 0; i < sizeof(window_cases) / sizeof(window_cases[0]); i++)
	{
		const window_case *c = &window_cases[i];
		char		code[16];
		int64_t		last = c->last_used == -1000 ? -1 : step + c->last_used;
		int64_t		matched = 0;
		totp_status st;

		code_of(step + c->offset, code);
		st = totp_verify(rfc_key, RFC_KEYLEN, code, now, 30, 6, c->window,
						 last, &matched);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   totp_strerror(st), totp_strerror(c->want));
		if (c->want == TOTP_OK)
			UNIT_CHECK(matched == step + c->offset, "%s: matched step %+lld",
					   c->name, (long long) (matched - step));
		else
			UNIT_CHECK(matched == -1, "%s: matched step cleared", c->name);
	}
}

/* The caller's loop: accept once, store the step, refuse the same code. */
static void
test_replay_sequence(void)
{
	const int64_t now = 1234567890;
	char		code[16];
	int64_t		last = -1;
	int64_t		matched;

	code_of(now / 30, code);
	UNIT_CHECK(totp_verify(rfc_key, RFC_KEYLEN, code, now, 30, 6, 1, last,
						   &matched) == TOTP_OK, "sequence: first use");
	last = matched;
	UNIT_CHECK(totp_verify(rfc_key, RFC_KEYLEN, code, now, 30, 6, 1, last,
						   &matched) == TOTP_ERR_REPLAY,
			   "sequence: same code again");
	UNIT_CHECK(totp_verify(rfc_key, RFC_KEYLEN, code, now + 29, 30, 6, 1, last,
						   &matched) == TOTP_ERR_REPLAY,
			   "sequence: same code 29 s later");
	code_of(now / 30 + 1, code);
	UNIT_CHECK(totp_verify(rfc_key, RFC_KEYLEN, code, now + 30, 30, 6, 1, last,
						   &matched) == TOTP_OK && matched == now / 30 + 1,
			   "sequence: next step's code");
}

typedef struct format_case
{
	const char *name;
	const char *code;
	int			digits;
} format_case;

static const format_case format_cases[] = {
	{"five digits", "12345", 6},
	{"seven digits", "1234567", 6},
	{"six digits for eight", "123456", 8},
	{"letters", "abcdef", 6},
	{"hex", "12345a", 6},
	{"space inside", "123 456", 6},
	{"space padded", " 123456", 6},
	{"trailing newline", "123456\n", 6},
	{"sign", "+12345", 6},
	{"empty", "", 6},
	{"arabic-indic digits", "\xd9\xa1\xd9\xa2\xd9\xa3", 6},
	{"fullwidth digits", "\xef\xbc\x91\xef\xbc\x92", 6},
};

static void
test_format_table(void)
{
	for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++)
	{
		const format_case *c = &format_cases[i];
		int64_t		matched = 7;
		totp_status st;

		st = totp_verify(rfc_key, RFC_KEYLEN, c->code, 1111111111, 30,
						 c->digits, 1, -1, &matched);
		UNIT_CHECK(st == TOTP_ERR_FORMAT, "%s: got \"%s\"", c->name,
				   totp_strerror(st));
		UNIT_CHECK(matched == -1, "%s: matched step cleared", c->name);
	}
	{
		int64_t		matched;

		UNIT_CHECK(totp_verify(rfc_key, RFC_KEYLEN, NULL, 1111111111, 30, 6, 1,
							   -1, &matched) == TOTP_ERR_FORMAT, "NULL code");
	}
}

typedef struct param_case
{
	const char *name;
	size_t		keylen;
	int64_t		now;
	int			period;
	int			digits;
	int			window;
} param_case;

static const param_case param_cases[] = {
	{"key of 15 bytes", 15, 1111111111, 30, 6, 1},
	{"key of 0 bytes", 0, 1111111111, 30, 6, 1},
	{"key of 129 bytes", 129, 1111111111, 30, 6, 1},
	{"7 digits", 20, 1111111111, 30, 7, 1},
	{"10 digits", 20, 1111111111, 30, 10, 1},
	{"0 digits", 20, 1111111111, 30, 0, 1},
	{"period 0", 20, 1111111111, 0, 6, 1},
	{"negative period", 20, 1111111111, -30, 6, 1},
	{"negative window", 20, 1111111111, 30, 6, -1},
	{"window 11", 20, 1111111111, 30, 6, 11},
	{"time before 1970", 20, -1, 30, 6, 1},
	{"window past the end of time", 20, INT64_MAX, 1, 6, 1},
};

static void
test_param_table(void)
{
	uint8_t		key[200];

	memset(key, 'k', sizeof(key));
	for (size_t i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++)
	{
		const param_case *c = &param_cases[i];
		int64_t		matched;
		totp_status st;

		st = totp_verify(key, c->keylen, c->digits == 8 ? "12345678" : "123456",
						 c->now, c->period, c->digits, c->window, -1,
						 &matched);
		UNIT_CHECK(st == TOTP_ERR_PARAM, "%s: got \"%s\"", c->name,
				   totp_strerror(st));
	}
	{
		uint32_t	code;

		UNIT_CHECK(totp_code(key, 15, 0, 6, &code) == TOTP_ERR_PARAM,
				   "hotp: short key");
		UNIT_CHECK(totp_code(key, 20, 0, 9, &code) == TOTP_ERR_PARAM,
				   "hotp: 9 digits");
		UNIT_CHECK(totp_code(key, 128, 0, 6, &code) == TOTP_OK,
				   "hotp: key of TOTP_KEY_MAX bytes");
	}
	{
		int64_t		matched;

		/* step 0 has no predecessor: the window simply starts there */
		UNIT_CHECK(totp_verify(rfc_key, RFC_KEYLEN, "94287082", 0, 30, 8, 1,
							   -1, &matched) == TOTP_OK && matched == 1,
				   "time 0, window 1: step 1 is in the window");
	}
}

typedef struct uri_case
{
	const char *name;
	const char *issuer;
	const char *account;
	const char *want;
} uri_case;

#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define URI_TAIL "&algorithm=SHA1&digits=6&period=30"

static const uri_case uri_cases[] = {
	{"plain", "Warden", "alice@example.com",
		"otpauth://totp/Warden:alice%40example.com?secret=" RFC_SECRET
	"&issuer=Warden" URI_TAIL},
	{"colons and spaces", "ACME Co: East", "bob:smith",
		"otpauth://totp/ACME%20Co%3A%20East:bob%3Asmith?secret=" RFC_SECRET
	"&issuer=ACME%20Co%3A%20East" URI_TAIL},
	{"query characters", "a&b=c?d#e", "x/y%z+w",
		"otpauth://totp/a%26b%3Dc%3Fd%23e:x%2Fy%25z%2Bw?secret=" RFC_SECRET
	"&issuer=a%26b%3Dc%3Fd%23e" URI_TAIL},
	{"unreserved kept", "A-Z.a_z~09", "u~._-",
		"otpauth://totp/A-Z.a_z~09:u~._-?secret=" RFC_SECRET
	"&issuer=A-Z.a_z~09" URI_TAIL},
	{"utf-8", "Zo\xc3\xab", "\xe2\x82\xac",
		"otpauth://totp/Zo%C3%AB:%E2%82%AC?secret=" RFC_SECRET
	"&issuer=Zo%C3%AB" URI_TAIL},
};

static void
test_uri_table(void)
{
	for (size_t i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++)
	{
		const uri_case *c = &uri_cases[i];
		char		out[512];
		size_t		len = 0;
		totp_status st;

		st = totp_uri(c->issuer, c->account, rfc_key, RFC_KEYLEN, out,
					  sizeof(out), &len);
		UNIT_CHECK(st == TOTP_OK, "%s: status %s", c->name,
				   totp_strerror(st));
		UNIT_CHECK_MEM(out, len, c->want, strlen(c->want), "%s", c->name);
		UNIT_CHECK(out[len] == '\0', "%s: terminated", c->name);
	}
}

static void
test_uri_bounds(void)
{
	const char *want = uri_cases[0].want;
	size_t		need = strlen(want) + 1;
	char		out[512];
	size_t		len;

	UNIT_CHECK(totp_uri("Warden", "alice@example.com", rfc_key, RFC_KEYLEN,
						out, need, &len) == TOTP_OK && len == need - 1,
			   "uri: exact buffer");
	memset(out, 'x', sizeof(out));
	UNIT_CHECK(totp_uri("Warden", "alice@example.com", rfc_key, RFC_KEYLEN,
						out, need - 1, &len) == TOTP_ERR_SPACE && len == 0,
			   "uri: one byte short");
	UNIT_CHECK(memchr(out, 'G', need - 1) == NULL,
			   "uri: no part of the secret left in a short buffer");
	UNIT_CHECK(totp_uri("Warden", "alice", rfc_key, RFC_KEYLEN, out, 0,
						&len) == TOTP_ERR_SPACE, "uri: no buffer");
	UNIT_CHECK(totp_uri("", "alice", rfc_key, RFC_KEYLEN, out, sizeof(out),
						&len) == TOTP_ERR_PARAM, "uri: empty issuer");
	UNIT_CHECK(totp_uri("Warden", "", rfc_key, RFC_KEYLEN, out, sizeof(out),
						&len) == TOTP_ERR_PARAM, "uri: empty account");
	UNIT_CHECK(totp_uri("Warden", "alice", rfc_key, 10, out, sizeof(out),
						&len) == TOTP_ERR_PARAM, "uri: short key");
}

static void
test_generate_key(void)
{
	uint8_t		a[TOTP_KEY_DEFAULT];
	uint8_t		b[TOTP_KEY_DEFAULT];

	UNIT_CHECK(totp_generate_key(a, sizeof(a)) == TOTP_OK &&
			   totp_generate_key(b, sizeof(b)) == TOTP_OK,
			   "generate: two keys");
	UNIT_CHECK(memcmp(a, b, sizeof(a)) != 0, "generate: keys differ");
	UNIT_CHECK(totp_generate_key(a, 8) == TOTP_ERR_PARAM,
			   "generate: short key refused");
}

int
main(void)
{
	test_hotp_vectors();
	test_totp_vectors();
	test_window_and_replay();
	test_replay_sequence();
	test_format_table();
	test_param_table();
	test_uri_table();
	test_uri_bounds();
	test_generate_key();
	return UNIT_MAIN_END();
}
