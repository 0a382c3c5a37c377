/*
 * form.c
 *		application/x-www-form-urlencoded decoding for OAuth requests.
 */
#include "form.h"

#include <string.h>

#include "hex.h"
#include "utf8.h"

/*
 * Decodes in[0..len) to out ('+' is a space, %XX a byte), NUL-terminated:
 * no longer than its text, so out has room. Returns the decoded length, or
 * -1 when malformed (bad escape, NUL, not UTF-8).
 */
static long
decode(const char *in, size_t len, char *out)
{
	long		n = hex_percent_decode(in, len, out, len, 1);

	if (n < 0 || !utf8_valid((const unsigned char *) out, (size_t) n))
		return -1;
	return n;
}

FormStatus
form_parse(const char *body, size_t len, char *buf, size_t buflen,
		   FormField *fields, int *nfields)
{
	int			room = *nfields;
	int			n = 0;
	size_t		pos = 0;

	*nfields = 0;
	if (buflen < len + 1)
		return FORM_MALFORMED;
	while (pos < len)
	{
		const char *pair = body + pos;
		const char *amp = memchr(pair, '&', len - pos);
		size_t		plen = amp != NULL ? (size_t) (amp - pair) : len - pos;
		const char *eq = memchr(pair, '=', plen);
		size_t		nlen = eq != NULL ? (size_t) (eq - pair) : plen;
		long		dn;
		long		dv;
		char	   *name;
		const char *value;
		int			k;

		pos += plen + 1;
		if (plen == 0)
			continue;			/* "a=1&&b=2": empty pairs are skipped */
		/*
		 * A pair decodes into buf at its own offset: the name, its NUL, the
		 * value and its NUL (each no longer than its text) take at most
		 * plen + 1 bytes, where the pair and its '&' (or the end) were. A
		 * pair without '=' gets a constant empty value, writing nothing.
		 */
		name = buf + (pair - body);
		dn = decode(pair, nlen, name);
		if (dn <= 0)
			return FORM_MALFORMED;
		if (eq != NULL)
		{
			char	   *v = name + dn + 1;

			dv = decode(eq + 1, plen - nlen - 1, v);
			if (dv < 0)
				return FORM_MALFORMED;
			value = v;
		}
		else
			value = "";
		for (k = 0; k < n; k++)
			if (strcmp(fields[k].name, name) == 0)
				return FORM_DUPLICATE;
		if (n == room)
			return FORM_TOO_MANY;
		fields[n].name = name;
		fields[n].value = value;
		n++;
		*nfields = n;
	}
	return FORM_OK;
}

const char *
form_get(const FormField *fields, int nfields, const char *name)
{
	int			i;

	for (i = 0; i < nfields; i++)
		if (strcmp(fields[i].name, name) == 0)
			return fields[i].value;
	return NULL;
}
