/*
 * test_base32.c
 *		Table-driven tests of core/base32: RFC 4648 section 10 vectors,
 *		the forgiving parts of decoding (case, spaces, optional padding) and
 *		every way a decoder of secrets must still refuse.
 */
#include "unit.h"

#include "base32.h"

typedef struct codec_case
{
	const char *name;
	const char *raw;
	size_t		raw_len;
	const char *encoded;		/* canonical: upper case, unpadded */
	const char *padded;			/* RFC 4648 form */
} codec_case;

static const codec_case codec_cases[] = {
	/* RFC 4648 section 10 */
	{"rfc4648 empty", "", 0, "", ""},
	{"rfc4648 f", "f", 1, "MY", "MY======"},
	{"rfc4648 fo", "fo", 2, "MZXQ", "MZXQ===="},
	{"rfc4648 foo", "foo", 3, "MZXW6", "MZXW6==="},
	{"rfc4648 foob", "foob", 4, "MZXW6YQ", "MZXW6YQ="},
	{"rfc4648 fooba", "fooba", 5, "MZXW6YTB", "MZXW6YTB"},
	{"rfc4648 foobar", "foobar", 6, "MZXW6YTBOI", "MZXW6YTBOI======"},
	/* the secret of Google Authenticator's key-uri-format example */
	{"key-uri example", "Hello!\xde\xad\xbe\xef", 10, "JBSWY3DPEHPK3PXP",
	"JBSWY3DPEHPK3PXP"},
	{"all ones", "\xff\xff\xff\xff\xff", 5, "77777777", "77777777"},
	{"all zero", "\0\0\0\0\0\0", 6, "AAAAAAAAAA", "AAAAAAAAAA======"},
};

/* Inputs that decode although they are not canonical. */
typedef struct lenient_case
{
	const char *name;
	const char *input;
	const char *raw;
	size_t		raw_len;
} lenient_case;

static const lenient_case lenient_cases[] = {
	{"lower case", "mzxw6ytboi", "foobar", 6},
	{"mixed case", "MzXw6YtBoI", "foobar", 6},
	{"groups of four", "JBSW Y3DP EHPK 3PXP", "Hello!\xde\xad\xbe\xef", 10},
	{"lower groups", "jbsw y3dp ehpk 3pxp", "Hello!\xde\xad\xbe\xef", 10},
	{"leading and trailing spaces", "  MZXW6  ", "foo", 3},
	{"space inside padding", "MY== ====", "f", 1},
	{"only spaces", "    ", "", 0},
};

typedef struct reject_case
{
	const char *name;
	const char *encoded;
	size_t		len;
	base32_status want;
} reject_case;

static const reject_case reject_cases[] = {
	{"digit 1", "MZXW1", 5, BASE32_ERR_CHAR},
	{"digit 0", "MZXW0", 5, BASE32_ERR_CHAR},
	{"digit 8", "MZXW8", 5, BASE32_ERR_CHAR},
	{"digit 9", "MZXW9", 5, BASE32_ERR_CHAR},
	{"hyphen", "JBSW-Y3DP", 9, BASE32_ERR_CHAR},
	{"tab", "JBSW\tY3DP", 9, BASE32_ERR_CHAR},
	{"newline", "JBSWY3DP\n", 9, BASE32_ERR_CHAR},
	{"nul inside", "MZ\0W6", 5, BASE32_ERR_CHAR},
	{"high byte", "MZXW\xc3\xa9", 6, BASE32_ERR_CHAR},
	{"base64 plus", "MZXW+", 5, BASE32_ERR_CHAR},
	{"one char", "M", 1, BASE32_ERR_LENGTH},
	{"three chars", "MZX", 3, BASE32_ERR_LENGTH},
	{"six chars", "MZXW6Y", 6, BASE32_ERR_LENGTH},
	{"nine chars", "MZXW6YTBO", 9, BASE32_ERR_LENGTH},
	{"too little padding", "MY=====", 7, BASE32_ERR_PADDING},
	{"too much padding", "MY=======", 9, BASE32_ERR_PADDING},
	{"padding on full group", "MZXW6YTB========", 16, BASE32_ERR_PADDING},
	{"padding wrong for residue", "MZXQ======", 10, BASE32_ERR_PADDING},
	{"data after padding", "MY==A===", 8, BASE32_ERR_PADDING},
	{"padding only", "========", 8, BASE32_ERR_PADDING},
	{"trailing bits in 2", "MZ", 2, BASE32_ERR_TRAILING_BITS},
	{"trailing bits in 4", "MZXR", 4, BASE32_ERR_TRAILING_BITS},
	{"trailing bits in 5", "MZXW7", 5, BASE32_ERR_TRAILING_BITS},
	{"trailing bits in 7", "MZXW6YR", 7, BASE32_ERR_TRAILING_BITS},
	{"trailing bits padded", "MZ======", 8, BASE32_ERR_TRAILING_BITS},
};

static void
test_codec_table(void)
{
	for (size_t i = 0; i < sizeof(codec_cases) / sizeof(codec_cases[0]); i++)
	{
		const codec_case *c = &codec_cases[i];
		char		enc[64];
		unsigned char dec[64];
		size_t		len;
		base32_status st;

		st = base32_encode((const unsigned char *) c->raw, c->raw_len,
						   enc, sizeof(enc), &len);
		UNIT_CHECK(st == BASE32_OK, "%s: encode status %s", c->name,
				   base32_strerror(st));
		UNIT_CHECK_MEM(enc, len, c->encoded, strlen(c->encoded),
					   "%s: encode", c->name);
		UNIT_CHECK(enc[len] == '\0', "%s: encode terminates", c->name);
		UNIT_CHECK(base32_encoded_len(c->raw_len) == strlen(c->encoded),
				   "%s: encoded_len", c->name);

		st = base32_decode(c->encoded, strlen(c->encoded), dec, sizeof(dec),
						   &len);
		UNIT_CHECK(st == BASE32_OK, "%s: decode status %s", c->name,
				   base32_strerror(st));
		UNIT_CHECK_MEM(dec, len, c->raw, c->raw_len, "%s: decode", c->name);
		UNIT_CHECK(base32_decoded_max(strlen(c->encoded)) == c->raw_len,
				   "%s: decoded_max is exact for unpadded input", c->name);

		st = base32_decode(c->padded, strlen(c->padded), dec, sizeof(dec),
						   &len);
		UNIT_CHECK(st == BASE32_OK, "%s: decode padded status %s", c->name,
				   base32_strerror(st));
		UNIT_CHECK_MEM(dec, len, c->raw, c->raw_len, "%s: decode padded",
					   c->name);
		UNIT_CHECK(base32_decoded_max(strlen(c->padded)) >= c->raw_len,
				   "%s: decoded_max bounds padded input", c->name);
	}
}

static void
test_lenient_table(void)
{
	for (size_t i = 0; i < sizeof(lenient_cases) / sizeof(lenient_cases[0]); i++)
	{
		const lenient_case *c = &lenient_cases[i];
		unsigned char dec[64];
		size_t		len;
		base32_status st;

		st = base32_decode(c->input, strlen(c->input), dec, sizeof(dec), &len);
		UNIT_CHECK(st == BASE32_OK, "%s: status %s", c->name,
				   base32_strerror(st));
		UNIT_CHECK_MEM(dec, len, c->raw, c->raw_len, "%s", c->name);
		UNIT_CHECK(base32_decoded_max(strlen(c->input)) >= len,
				   "%s: decoded_max is an upper bound", c->name);
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
		base32_status st;

		memset(dec, 0xAA, sizeof(dec));
		st = base32_decode(c->encoded, c->len, dec, sizeof(dec), &len);
		UNIT_CHECK(st == c->want, "%s: got \"%s\", want \"%s\"", c->name,
				   base32_strerror(st), base32_strerror(c->want));
		UNIT_CHECK(len == 0, "%s: outlen cleared on error", c->name);
		/* nothing of a refused secret is left behind */
		for (size_t j = 0; j < 8; j++)
			if (dec[j] != 0xAA && dec[j] != 0)
			{
				UNIT_CHECK(0, "%s: byte %zu of the output left set", c->name,
						   j);
				break;
			}
	}
}

/* Buffers of exactly the needed size work; one byte less is refused. */
static void
test_buffer_bounds(void)
{
	const unsigned char raw[] = "foobar";
	char		enc[11];
	unsigned char dec[6];
	size_t		len;

	UNIT_CHECK(base32_encode(raw, 6, enc, 11, &len) == BASE32_OK && len == 10,
			   "encode into exact buffer");
	UNIT_CHECK(base32_encode(raw, 6, enc, 10, &len) == BASE32_ERR_SPACE &&
			   len == 0, "encode without room for the terminator");
	UNIT_CHECK(base32_encode(raw, 0, enc, 0, &len) == BASE32_ERR_SPACE,
			   "encode into no buffer");
	UNIT_CHECK(base32_decode("MZXW6YTBOI", 10, dec, 6, &len) == BASE32_OK &&
			   len == 6, "decode into exact buffer");
	UNIT_CHECK(base32_decode("MZXW6YTBOI", 10, dec, 5, &len) ==
			   BASE32_ERR_SPACE, "decode into short buffer");
	UNIT_CHECK(base32_decode("MZXW6YTBOI======", 16, dec, 6, &len) ==
			   BASE32_OK && len == 6,
			   "padded decode needs only the bytes it produces");
	UNIT_CHECK(base32_decode("MZXW 6YTB OI", 12, dec, 6, &len) == BASE32_OK &&
			   len == 6, "spaced decode needs only the bytes it produces");
}

/* Every byte value survives a round trip, at every length modulo 5. */
static void
test_round_trip_all_bytes(void)
{
	unsigned char raw[260];
	char		enc[500];
	unsigned char dec[300];

	for (int i = 0; i < 260; i++)
		raw[i] = (unsigned char) (i * 7 + 3);
	for (size_t n = 255; n <= 260; n++)
	{
		size_t		elen;
		size_t		dlen;

		UNIT_CHECK(base32_encode(raw, n, enc, sizeof(enc), &elen) == BASE32_OK,
				   "round trip %zu: encode", n);
		UNIT_CHECK(base32_decode(enc, elen, dec, sizeof(dec), &dlen) ==
				   BASE32_OK, "round trip %zu: decode", n);
		UNIT_CHECK_MEM(dec, dlen, raw, n, "round trip %zu", n);
	}
}

int
main(void)
{
	test_codec_table();
	test_lenient_table();
	test_reject_table();
	test_buffer_bounds();
	test_round_trip_all_bytes();
	return UNIT_MAIN_END();
}
