/*
 * hex.h
 *		Hexadecimal digits, for everything that reads hex text: key files,
 *		UUIDs, percent-encoded URLs.
 */
#ifndef WARDEN_HEX_H
#define WARDEN_HEX_H

#include <stddef.h>

/* The value of one hex digit, either case, or -1. */
static inline int
hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes in[0..len) into out (at most outmax bytes, then a NUL);
 * with plus_is_space, '+' decodes to a space (form encoding). Returns the
 * decoded length, or -1 for a malformed escape, a decoded NUL, or more
 * than outmax bytes. Callers check what else their grammar forbids.
 */
static inline long
hex_percent_decode(const char *in, size_t len, char *out, size_t outmax,
				   int plus_is_space)
{
	size_t		i;
	size_t		o = 0;

	for (i = 0; i < len; i++)
	{
		int			c = (unsigned char) in[i];

		if (c == '+' && plus_is_space)
			c = ' ';
		else if (c == '%')
		{
			int			hi;
			int			lo;

			if (len - i < 3 || (hi = hex_nibble((unsigned char) in[i + 1])) < 0 ||
				(lo = hex_nibble((unsigned char) in[i + 2])) < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == '\0' || o == outmax)
			return -1;
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return (long) o;
}

#endif							/* WARDEN_HEX_H */
