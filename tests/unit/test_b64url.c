/*
 * test_b64url.c
 *		Table-driven tests of core/b64url: RFC 4648 vectors in the URL-safe
 *		alphabet, JOSE examples, and every way a strict decoder must refuse.
 */
#include "unit.h"

#include "b64url.h"

typedef struct codec_case
{
	const char *name;
	const char *raw;
	size_t		raw_len;
	const char *encoded;
} codec_case;

static const codec_case codec_cases[] = {
	/* RFC 4648 section 10, without the padding */
	{"rfc4648 empty", "", 0, ""},
	{"rfc4648 f", "f", 1, "Zg"},
	{"rfc4648 fo", "fo", 2, "Zm8"},
	{"rfc4648 foo", "foo", 3, "Zm9v"},
	{"rfc4648 foob", "foob", 4, "Zm9vYg"},
	{"rfc4648 fooba", "fooba", 5, "Zm9vYmE"},
	{"rfc4648 foobar", "foobar", 6, "Zm9vYmFy"},
	/* the two characters that differ from standard base64 */
	{"url-safe 62 and 63", "\xfb\xff\xbf", 3, "-_-_"},
	{"url-safe tail", "\xfb\xff", 2, "-_8"},
	{"all zero", "\0\0\0", 3, "AAAA"},
	/* RFC 7515 section 3.3: the JWS protected header of the example */
	{"rfc7515 header",
		"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", 30,
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"},
};

typedef struct reject_case
{
	const char *name;
	const char *encoded;
	size_t		len;
	b64url_status want;
} reject_case;

static const reject_case reject_cases[] = {
	{"padding", "Zg==", 4, B64URL_ERR_CHAR},
	{"single padding", "Zm8=", 4, B64URL_ERR_CHAR},
	{"standard plus", "+/8", 3, B64URL_ERR_CHAR},
	{"space inside", "Zm 9v", 5, B64URL_ERR_LENGTH},
	{"space in group", "Zm 9", 4, B64URL_ERR_CHAR},
	{"newline", "Zm9v\nYg", 7, B64URL_ERR_CHAR},
	{"nul inside", "Zm\0v", 4, B64URL_ERR_CHAR},
	{"high byte", "Zm\xc3\xa9", 4, B64URL_ERR_CHAR},
	{"dot", "Zm9v.Yg", 7, B64URL_ERR_CHAR},
	{"lone char", "Z", 1, B64URL_ERR_LENGTH},
	{"five chars", "Zm9vY", 5, B64URL_ERR_LENGTH},
	{"trailing bits in 2", "Zh", 2, B64URL_ERR_TRAILING_BITS},
	{"trailing bits in 3", "Zm9", 3, B64URL_ERR_TRAILING_BITS},
	{"bad char in tail of 2", "Z*", 2, B64URL_ERR_CHAR},
	{"bad char in tail of 3", "Zm*", 3, B64URL_ERR_CHAR},
};

static void
test_codec_table(void)
{
	for (size_t i = 0; i < sizeof(codec_cases) / sizeof(codec_cases[0]); i++)
	{
		const codec_case *c = &codec_cases[i];
		char		enc[128];
		unsigned char dec[128];
		size_t		len;
		b64url_status st;

		st = b64url_encode((const unsigned char *) c->raw, c->raw_len,
						   enc, sizeof(enc), &len);
		UNIT_CHECK(st == B64URL_OK, "%s: encode status %s", c->name,
				   b64url_strerror(st));
		UNIT_CHECK_MEM(enc, len, c->encoded, strlen(c->encoded),
					   "%s: encode", c->name);
		UNIT_CHECK(enc[len] == '\0', "%s: encode terminates", c->name);
		UNIT_CHECK(b64url_encoded_len(c->raw_len) == strlen(c->encoded),
				   "%s: encoded_len", c->name);

		st = b64url_decode(c->encoded, strlen(c->encoded), dec, sizeof(dec),
						   &len);
		UNIT_CHECK(st == B64URL_OK, "%s: decode status %s", c->name,
				   b64url_strerror(st));
		UNIT_CHECK_MEM(dec, len, c->raw, c->raw_len, "%s: decode", c->name);
		UNIT_CHECK(b64url_decoded_max(strlen(c->encoded)) == c->raw_len,
				   "%s: decoded_max is exact for valid input", c->name);
	}
}

static void
test_reject_table(void)
{
	for (size_t i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++)
	{
		const reject_case *c = &reject_cases[i];
		unsigned char dec[64];
		size_t		len = 99;
		b64url_status st;

		st = b64url_decode(c->encoded, c->len, dec, sizeof(dec), &len);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   b64url_strerror(st), b64url_strerror(c->want));
		UNIT_CHECK(len == 0, "%s: outlen cleared on error", c->name);
	}
}

/* Buffers of exactly the documented size work; one byte less is refused. */
static void
test_buffer_bounds(void)
{
	const unsigned char raw[] = "foobar";
	char		enc[9];
	unsigned char dec[6];
	size_t		len;

	UNIT_CHECK(b64url_encode(raw, 6, enc, 9, &len) == B64URL_OK,
			   "encode into exact buffer");
	UNIT_CHECK(b64url_encode(raw, 6, enc, 8, &len) == B64URL_ERR_SPACE,
			   "encode without room for the terminator");
	UNIT_CHECK(b64url_decode("Zm9vYmFy", 8, dec, 6, &len) == B64URL_OK,
			   "decode into exact buffer");
	UNIT_CHECK(b64url_decode("Zm9vYmFy", 8, dec, 5, &len) == B64URL_ERR_SPACE,
			   "decode into short buffer");
	UNIT_CHECK(b64url_decode("Zm9vYg", 6, dec, 4, &len) == B64URL_OK &&
			   len == 4, "decode of a partial group into exact buffer");
}

/* Every byte value survives a round trip, at every length modulo 3. */
static void
test_round_trip_all_bytes(void)
{
	unsigned char raw[258];
	char		enc[400];
	unsigned char dec[300];

	for (int i = 0; i < 258; i++)
		raw[i] = (unsigned char) (i * 7 + 3);
	for (size_t n = 256; n <= 258; n++)
	{
		size_t		elen;
		size_t		dlen;

		UNIT_CHECK(b64url_encode(raw, n, enc, sizeof(enc), &elen) == B64URL_OK,
				   "round trip %zu: encode", n);
		UNIT_CHECK(b64url_decode(enc, elen, dec, sizeof(dec), &dlen) ==
				   B64URL_OK, "round trip %zu: decode", n);
		UNIT_CHECK_MEM(dec, dlen, raw, n, "round trip %zu", n);
	}
}

/* b64url_span: the run of alphabet characters, stopped by any other byte. */
static void
test_span_table(void)
{
	static const struct
	{
		const char *s;
		size_t		want;
	}			cases[] = {
		{"", 0},
		{"abcXYZ019-_", 11},
		{"abc.def", 3},
		{".abc", 0},
		{"ab+c", 2},
		{"ab/c", 2},
		{"abc=", 3},
		{"ab c", 2},
		{"ab\x80" "c", 2},
		{"ab\xff" "c", 2},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		UNIT_CHECK(b64url_span(cases[i].s) == cases[i].want,
				   "span row %zu: %zu, want %zu", i, b64url_span(cases[i].s), cases[i].want);
}

int
main(void)
{
	test_codec_table();
	test_span_table();
	test_reject_table();
	test_buffer_bounds();
	test_round_trip_all_bytes();
	return UNIT_MAIN_END();
}
