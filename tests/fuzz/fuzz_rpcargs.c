/*
 * fuzz_rpcargs.c
 *		libFuzzer target for core/rpcargs: RPC request parsing.
 *
 * The first byte picks what the rest is: a JSON body, a query string or a
 * request target. Properties: nothing is read past the input or written
 * past the len + 1 buffer; accepted names are 1 to 63 bytes of UTF-8 and
 * unique; strings are NUL-free UTF-8; every value's SQL text is exactly as
 * long as announced, NUL-free, and written only into the room given; a
 * reachable function name is [a-z_][a-z0-9_]*. Oracle: a document jansson
 * accepts as an object with unique names (jansson refuses duplicates at
 * every depth, so it is stricter there) is accepted here too, unless one
 * of our documented limits applies, with the same names and strings
 * (inputs with a NUL byte excepted: jansson reads them only up to it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_safe.h"
#include "rpcargs.h"
#include "utf8.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_values(const RpcArg *args, int n)
{
	static const RpcArgType types[] = {RPCT_SCALAR, RPCT_JSON, RPCT_ARRAY, RPCT_JSON_ARRAY};
	int			i;
	int			j;
	size_t		t;

	for (i = 0; i < n; i++)
	{
		size_t		nlen = strlen(args[i].name);

		if (nlen == 0 || nlen > RPCARGS_NAME_MAX ||
			!utf8_valid((const unsigned char *) args[i].name, nlen))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(args[i].name, args[j].name) == 0)
				abort();
		if (args[i].text != NULL &&
			!utf8_valid((const unsigned char *) args[i].text, strlen(args[i].text)))
			abort();
		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		{
			long		need = rpcargs_value_text(&args[i], types[t], NULL, 0);
			char	   *out;

			if (need < 0)
				continue;
			/* a buffer one byte short: nothing may be written past it */
			out = malloc((size_t) need + 1);
			if (out == NULL)
				abort();
			if (rpcargs_value_text(&args[i], types[t], out, (size_t) need) != need ||
				rpcargs_value_text(&args[i], types[t], out, (size_t) need + 1) != need ||
				strlen(out) != (size_t) need)
				abort();
			free(out);
		}
	}
}

/* jansson as an oracle for what a strict JSON parser must accept. */
static void
check_oracle(const char *in, size_t size, RpcArgsStatus st, const RpcArg *args, int n)
{
	json_t	   *doc;
	const char *key;
	json_t	   *v;
	int			i;

	/* jansson stops reading at a NUL byte outside strings: no oracle then */
	if (memchr(in, '\0', size) != NULL)
		return;
	doc = json_loadb(in, size, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL)
		return;
	if (json_is_object(doc) && st != RPCARGS_TOO_MANY && st != RPCARGS_BAD_NAME &&
		st != RPCARGS_TOO_DEEP)
	{
		if (st != RPCARGS_OK || (size_t) n != json_object_size(doc))
			abort();
		for (i = 0; i < n; i++)
		{
			v = json_object_get(doc, args[i].name);
			if (v == NULL)
				abort();
			if (json_is_string(v) &&
				(args[i].kind != RPCV_STRING ||
				 strlen(args[i].text) != json_string_length(v) ||
				 memcmp(args[i].text, json_string_value(v), json_string_length(v)) != 0))
				abort();
			if ((json_is_object(v) && args[i].kind != RPCV_OBJECT) ||
				(json_is_array(v) && args[i].kind != RPCV_ARRAY) ||
				(json_is_null(v) && args[i].kind != RPCV_NULL) ||
				(json_is_boolean(v) && args[i].kind != RPCV_BOOL) ||
				(json_is_number(v) && args[i].kind != RPCV_NUMBER))
				abort();
		}
		json_object_foreach(doc, key, v)
		{
			(void) v;
			if (strlen(key) == 0)
				abort();		/* an empty name is refused as BAD_NAME */
		}
	}
	else if (!json_is_object(doc) && st != RPCARGS_NOT_OBJECT && st != RPCARGS_TOO_DEEP)
		abort();
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in;
	char	   *buf;
	RpcArg		args[RPCARGS_MAX];
	int			n = 0;
	RpcArgsStatus st;
	uint8_t		mode;

	if (size == 0)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	in = malloc(size ? size : 1);
	buf = malloc(size + 1);
	if (in == NULL || buf == NULL)
		abort();
	memcpy(in, data, size);		/* exactly size bytes: ASan sees overreads */
	if (mode == 0)
	{
		st = rpcargs_from_json(in, size, buf, size + 1, args, &n);
		if (st == RPCARGS_OK)
			check_values(args, n);
		check_oracle(in, size, st, args, n);
	}
	else if (mode == 1)
	{
		if (rpcargs_from_query(in, size, buf, size + 1, args, &n) == RPCARGS_OK)
			check_values(args, n);
	}
	else
	{
		const char *name;
		const char *query;
		size_t		nlen;
		size_t		qlen;
		size_t		i;

		if (rpcargs_target(in, size, "/v1/rpc/", &name, &nlen, &query, &qlen))
		{
			for (i = 0; i < nlen; i++)
				if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_' ||
					  (i > 0 && name[i] >= '0' && name[i] <= '9')))
					abort();
			if (query != NULL &&
				(query < in || query + qlen != in + size || query[-1] != '?'))
				abort();
		}
	}
	free(in);
	free(buf);
	return 0;
}
