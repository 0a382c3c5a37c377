/*
 * b64url.c
 *		Strict unpadded base64url codec for JOSE (see b64url.h).
 *
 * Decoding goes through a 256-entry table, so every input byte, including
 * NUL and bytes >= 0x80, is judged by the same lookup, and the work is linear
 * in the input.
 */
#include "b64url.h"

#include <stdint.h>

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * One more than each character's value, so that the zero every other entry
 * gets by default marks bytes outside the alphabet.
 */
static const uint8_t b64url_values[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26,
	['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38,
	['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44,
	['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
	['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58,
	['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['-'] = 63, ['_'] = 64,
};

size_t
b64url_encoded_len(size_t n)
{
	return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
b64url_decoded_max(size_t n)
{
	return (n / 4) * 3 + (n % 4 > 1 ? n % 4 - 1 : 0);
}

b64url_status
b64url_encode(const unsigned char *src, size_t n, char *dst, size_t dstsize,
			  size_t *outlen)
{
	size_t		need = b64url_encoded_len(n);
	size_t		i = 0;
	size_t		o = 0;

	*outlen = 0;
	if (need >= dstsize)
		return B64URL_ERR_SPACE;

	for (; i + 3 <= n; i += 3)
	{
		uint32_t	v = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8 |
			src[i + 2];

		dst[o++] = b64url_alphabet[v >> 18];
		dst[o++] = b64url_alphabet[(v >> 12) & 63];
		dst[o++] = b64url_alphabet[(v >> 6) & 63];
		dst[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1)
	{
		dst[o++] = b64url_alphabet[src[i] >> 2];
		dst[o++] = b64url_alphabet[(src[i] & 3) << 4];
	}
	else if (n - i == 2)
	{
		uint32_t	v = (uint32_t) src[i] << 8 | src[i + 1];

		dst[o++] = b64url_alphabet[v >> 10];
		dst[o++] = b64url_alphabet[(v >> 4) & 63];
		dst[o++] = b64url_alphabet[(v & 15) << 2];
	}
	dst[o] = '\0';
	*outlen = o;
	return B64URL_OK;
}

b64url_status
b64url_decode(const char *src, size_t n, unsigned char *dst, size_t dstsize,
			  size_t *outlen)
{
	const unsigned char *s = (const unsigned char *) src;
	size_t		i = 0;
	size_t		o = 0;
	size_t		rest = n % 4;

	*outlen = 0;
	if (rest == 1)
		return B64URL_ERR_LENGTH;
	if (b64url_decoded_max(n) > dstsize)
		return B64URL_ERR_SPACE;

	for (; i + 4 <= n; i += 4)
	{
		uint32_t	a = b64url_values[s[i]];
		uint32_t	b = b64url_values[s[i + 1]];
		uint32_t	c = b64url_values[s[i + 2]];
		uint32_t	d = b64url_values[s[i + 3]];
		uint32_t	v;

		if (a == 0 || b == 0 || c == 0 || d == 0)
			return B64URL_ERR_CHAR;
		v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		dst[o++] = (unsigned char) (v >> 16);
		dst[o++] = (unsigned char) (v >> 8);
		dst[o++] = (unsigned char) v;
	}
	if (rest == 2)
	{
		uint32_t	a = b64url_values[s[i]];
		uint32_t	b = b64url_values[s[i + 1]];

		if (a == 0 || b == 0)
			return B64URL_ERR_CHAR;
		if ((b - 1) & 15)
			return B64URL_ERR_TRAILING_BITS;
		dst[o++] = (unsigned char) ((a - 1) << 2 | (b - 1) >> 4);
	}
	else if (rest == 3)
	{
		uint32_t	a = b64url_values[s[i]];
		uint32_t	b = b64url_values[s[i + 1]];
		uint32_t	c = b64url_values[s[i + 2]];
		uint32_t	v;

		if (a == 0 || b == 0 || c == 0)
			return B64URL_ERR_CHAR;
		v = (a - 1) << 12 | (b - 1) << 6 | (c - 1);
		if (v & 3)
			return B64URL_ERR_TRAILING_BITS;
		dst[o++] = (unsigned char) (v >> 10);
		dst[o++] = (unsigned char) (v >> 2);
	}
	*outlen = o;
	return B64URL_OK;
}

size_t
b64url_span(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		n = 0;

	while (b64url_values[p[n]] != 0)
		n++;
	return n;
}

const char *
b64url_strerror(b64url_status status)
{
	switch (status)
	{
		case B64URL_OK:
			return "success";
		case B64URL_ERR_SPACE:
			return "output buffer too small";
		case B64URL_ERR_CHAR:
			return "invalid base64url character";
		case B64URL_ERR_LENGTH:
			return "invalid base64url length";
		case B64URL_ERR_TRAILING_BITS:
			return "non-canonical base64url encoding";
	}
	return "unknown base64url error";
}
