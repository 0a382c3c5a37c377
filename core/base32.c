/*
 * base32.c
 *		RFC 4648 base32 codec for TOTP secrets (see base32.h).
 *
 * Decoding makes two passes: the first judges the shape of the input (bad
 * bytes, where the padding starts, how many data characters there are)
 * before a single byte is written, so a refused input never leaves part of
 * a secret in the caller's buffer; the second converts. Both go through one
 * 256-entry table, so NUL and bytes >= 0x80 are judged like any other byte.
 */
#include "base32.h"

#include <stdint.h>
#include <string.h>

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/*
 * One more than each character's value, so that the zero every other entry
 * gets by default marks bytes outside the alphabet. Lower case maps like
 * upper case.
 */
static const uint8_t base32_values[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26,
	['a'] = 1, ['b'] = 2, ['c'] = 3, ['d'] = 4, ['e'] = 5, ['f'] = 6,
	['g'] = 7, ['h'] = 8, ['i'] = 9, ['j'] = 10, ['k'] = 11, ['l'] = 12,
	['m'] = 13, ['n'] = 14, ['o'] = 15, ['p'] = 16, ['q'] = 17, ['r'] = 18,
	['s'] = 19, ['t'] = 20, ['u'] = 21, ['v'] = 22, ['w'] = 23, ['x'] = 24,
	['y'] = 25, ['z'] = 26,
	['2'] = 27, ['3'] = 28, ['4'] = 29, ['5'] = 30, ['6'] = 31, ['7'] = 32,
};

/*
 * Padding characters a final group of r data characters (r = count % 8)
 * needs; -1 marks the residues no encoding produces (1, 3 and 6 characters
 * carry 5, 15 and 30 bits: less than one byte more than a whole number).
 */
static const int base32_pad_for[8] = {0, -1, 6, -1, 4, 3, -1, 1};

size_t
base32_encoded_len(size_t n)
{
	return (n / 5) * 8 + (n % 5 * 8 + 4) / 5;
}

size_t
base32_decoded_max(size_t n)
{
	return (n / 8) * 5 + (n % 8) * 5 / 8;
}

base32_status
base32_encode(const unsigned char *src, size_t n, char *dst, size_t dstsize,
			  size_t *outlen)
{
	size_t		need = base32_encoded_len(n);
	size_t		o = 0;
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		i;

	*outlen = 0;
	if (need >= dstsize)
		return BASE32_ERR_SPACE;

	for (i = 0; i < n; i++)
	{
		acc = (acc << 8 | src[i]) & 0xfff;
		bits += 8;
		while (bits >= 5)
		{
			bits -= 5;
			dst[o++] = base32_alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		dst[o++] = base32_alphabet[(acc << (5 - bits)) & 31];
	dst[o] = '\0';
	*outlen = o;
	return BASE32_OK;
}

base32_status
base32_decode(const char *src, size_t n, unsigned char *dst, size_t dstsize,
			  size_t *outlen)
{
	const unsigned char *s = (const unsigned char *) src;
	size_t		data = 0;
	size_t		pad = 0;
	size_t		need;
	size_t		o = 0;
	size_t		i;
	uint32_t	acc = 0;
	int			bits = 0;
	int			residue;

	*outlen = 0;

	/* First pass: only judge the shape, write nothing. */
	for (i = 0; i < n; i++)
	{
		if (s[i] == ' ')
			continue;
		if (s[i] == '=')
			pad++;
		else if (base32_values[s[i]] == 0)
			return BASE32_ERR_CHAR;
		else if (pad > 0)
			return BASE32_ERR_PADDING;	/* data after padding */
		else
			data++;
	}

	residue = (int) (data % 8);
	if (base32_pad_for[residue] < 0)
		return BASE32_ERR_LENGTH;
	if (pad > 0 && pad != (size_t) base32_pad_for[residue])
		return BASE32_ERR_PADDING;

	need = data / 8 * 5 + (size_t) residue * 5 / 8;
	if (need > dstsize)
		return BASE32_ERR_SPACE;

	/* Second pass: convert. */
	for (i = 0; i < n; i++)
	{
		uint8_t		v = base32_values[s[i]];

		if (v == 0)
			continue;			/* space or padding, both judged above */
		acc = (acc << 5 | (uint32_t) (v - 1)) & 0x1fff;
		bits += 5;
		if (bits >= 8)
		{
			bits -= 8;
			dst[o++] = (unsigned char) (acc >> bits);
		}
	}

	/* The bits left over must be zero, or two inputs mean one secret. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
	{
		memset(dst, 0, o);
		return BASE32_ERR_TRAILING_BITS;
	}
	*outlen = o;
	return BASE32_OK;
}

const char *
base32_strerror(base32_status status)
{
	switch (status)
	{
		case BASE32_OK:
			return "success";
		case BASE32_ERR_SPACE:
			return "output buffer too small";
		case BASE32_ERR_CHAR:
			return "invalid base32 character";
		case BASE32_ERR_LENGTH:
			return "invalid base32 length";
		case BASE32_ERR_PADDING:
			return "invalid base32 padding";
		case BASE32_ERR_TRAILING_BITS:
			return "non-canonical base32 encoding";
	}
	return "unknown base32 error";
}
