/*
 * textfmt.h
 *		Numbers and bounded copies as text without printf, for what every
 *		request formats (rate-limit headers, prepared statement names,
 *		parameter numbers): snprintf costs more than the rest of such a
 *		step, and a request made about nine of them.
 *
 * The caller supplies the buffer; every function writes a terminating NUL.
 */
#ifndef EDGE_TEXTFMT_H
#define EDGE_TEXTFMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Room for any uint64_t in decimal, with its NUL. */
#define TEXTFMT_U64_MAX 21

/* v in decimal into out (TEXTFMT_U64_MAX bytes at least); its length. */
static inline size_t
textfmt_u64(char *out, uint64_t v)
{
	char		tmp[TEXTFMT_U64_MAX];
	size_t		n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

/* v as 16 lowercase hexadecimal digits into out (17 bytes at least). */
static inline void
textfmt_hex64(char *out, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--)
	{
		out[i] = digits[v & 0xf];
		v >>= 4;
	}
	out[16] = '\0';
}

/* s into out of outlen bytes (outlen > 0), cut short if need be; its length. */
static inline size_t
textfmt_copy(char *out, size_t outlen, const char *s)
{
	size_t		n = strnlen(s, outlen - 1);

	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

#endif							/* EDGE_TEXTFMT_H */
