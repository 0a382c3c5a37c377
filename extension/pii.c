/*
 * pii.c
 *		PII masking in the database: warden.mask(), warden.mask_jsonb(),
 *		warden.find_pii(), the masking settings, and the emit_log_hook that
 *		masks PostgreSQL's own server log.
 *
 * The detection and masking are core/pii.c, the same code the edge uses on
 * its access log. The styles come from warden.mask_style (every type) and
 * warden.mask_styles (per-type overrides, "email:partial, card:hash").
 * The hash style is keyed by a key derived from the master key, so its
 * tokens are stable and cannot be recomputed without it.
 *
 * The log hook runs for every message PostgreSQL is about to write, inside
 * error reporting: it must never raise an error, allocates only with
 * MCXT_ALLOC_NO_OOM in ErrorContext, keeps errno, guards against recursion,
 * and withholds a text it cannot mask rather than letting it through. It
 * masks the message, detail, hint, context and internal query, and the
 * statement text (debug_query_string) that PostgreSQL prints after them.
 */
#include "postgres.h"

#include "jansson_pg.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "pii.h"
#include "warden.h"

bool		warden_mask_logs = true;
int			warden_mask_style = PII_STYLE_FULL;
char	   *warden_mask_styles = NULL;

/* the per-type overrides, parsed by the check hook */
typedef struct MaskOverrides
{
	int			style[PII_TYPE_COUNT];	/* -1: no override */
} MaskOverrides;

static MaskOverrides *mask_overrides = NULL;

static bool hash_key_ready = false;
static unsigned char hash_key[32];

static emit_log_hook_type prev_emit_log_hook = NULL;
static bool in_log_hook = false;

/*
 * A copy of the last statement text the hook masked, and its masked copy.
 * Compared by content: the next statement often arrives at the same
 * address (the protocol's input buffer is reused).
 */
static char *masked_stmt_source = NULL;
static char *masked_stmt = NULL;

/* --- settings ------------------------------------------------------------ */

bool
warden_check_mask_styles(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval ? *newval : "");
	List	   *items;
	ListCell   *lc;
	MaskOverrides *o = malloc(sizeof(MaskOverrides));	/* GUC frees extra with free() */
	int			i;

	if (o == NULL)
		return false;
	for (i = 0; i < PII_TYPE_COUNT; i++)
		o->style[i] = -1;
	if (!SplitIdentifierString(copy, ',', &items))
	{
		GUC_check_errdetail("warden.mask_styles is a list of type:style.");
		free(o);
		return false;
	}
	foreach(lc, items)
	{
		char	   *item = (char *) lfirst(lc);
		char	   *colon = strchr(item, ':');
		pii_type	t;
		pii_style	st;

		if (colon == NULL ||
			!pii_type_parse(item, colon - item, &t) ||
			!pii_style_parse(colon + 1, strlen(colon + 1), &st))
		{
			GUC_check_errdetail("\"%s\" is not type:style (types: email, phone, card, iban, ipv4, ipv6, ssn, jwt, bearer, api_key, secret; styles: off, full, partial, hash).",
								item);
			free(o);
			return false;
		}
		o->style[t] = st;
	}
	*extra = o;
	return true;
}

void
warden_assign_mask_styles(const char *newval, void *extra)
{
	mask_overrides = extra;
}

/* The configuration in force; with_hash false turns hash into full. */
static void
mask_config(pii_mask_config *cfg, bool with_hash)
{
	int			i;

	pii_mask_config_init(cfg, (pii_style) warden_mask_style);
	if (mask_overrides != NULL)
		for (i = 0; i < PII_TYPE_COUNT; i++)
			if (mask_overrides->style[i] >= 0)
				cfg->style[i] = (pii_style) mask_overrides->style[i];
	if (with_hash && hash_key_ready)
	{
		cfg->hmac_key = hash_key;
		cfg->hmac_key_len = sizeof(hash_key);
	}
	else
		for (i = 0; i < PII_TYPE_COUNT; i++)
			if (cfg->style[i] == PII_STYLE_HASH)
				cfg->style[i] = PII_STYLE_FULL;
}

/* The hash key: HMAC-SHA-256 of a fixed label under the master key. */
static void
mask_hash_key_load(void)
{
	uint32		id;
	const uint8 *master;
	unsigned int len = 0;
	static const char label[] = "warden/pii-mask";

	if (hash_key_ready)
		return;
	master = warden_master_key(&id);
	if (HMAC(EVP_sha256(), master, WARDEN_MASTER_KEY_LEN,
			 (const unsigned char *) label, sizeof(label) - 1,
			 hash_key, &len) == NULL || len != sizeof(hash_key))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not derive the masking key")));
	hash_key_ready = true;
}

/*
 * Masks text[0..len) into a palloc'd NUL-terminated string (in cxt, without
 * raising errors when noerror). NULL only when noerror and out of memory.
 */
static char *
mask_text(const char *text, size_t len, const pii_mask_config *cfg,
		  MemoryContext cxt, bool noerror)
{
	char		small[1024];
	size_t		outlen;
	pii_status	st;
	char	   *out;

	st = pii_mask(text, len, cfg, small, sizeof(small), &outlen);
	if (st == PII_OK)
	{
		out = MemoryContextAllocExtended(cxt, outlen + 1,
										 noerror ? MCXT_ALLOC_NO_OOM : 0);
		if (out != NULL)
			memcpy(out, small, outlen + 1);
		return out;
	}
	if (st != PII_ERR_SPACE)
	{
		if (noerror)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not mask text: %s", pii_strerror(st))));
	}
	out = MemoryContextAllocExtended(cxt, outlen + 1,
									 MCXT_ALLOC_HUGE | (noerror ? MCXT_ALLOC_NO_OOM : 0));
	if (out == NULL)
		return NULL;
	st = pii_mask(text, len, cfg, out, outlen + 1, &outlen);
	if (st != PII_OK)
	{
		if (noerror)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not mask text: %s", pii_strerror(st))));
	}
	return out;
}

/* --- the log hook ----------------------------------------------------------- */

static const char withheld[] = "[withheld: could not mask]";

/*
 * Masks one field of an ErrorData in place. The field is palloc'd in
 * ErrorContext and belongs to the report, so it is replaced only when
 * something was found; most log lines hold no PII and cost one scan.
 */
static void
mask_log_field(char **field, const pii_mask_config *cfg)
{
	char		small[1024];
	size_t		len;
	size_t		outlen;
	char	   *masked;

	if (*field == NULL || (*field)[0] == '\0')
		return;
	len = strlen(*field);
	if (pii_mask(*field, len, cfg, small, sizeof(small), &outlen) == PII_OK)
	{
		if (outlen == len && memcmp(small, *field, len) == 0)
			return;
		masked = MemoryContextAllocExtended(ErrorContext, outlen + 1,
											MCXT_ALLOC_NO_OOM);
		if (masked != NULL)
			memcpy(masked, small, outlen + 1);
	}
	else
		masked = mask_text(*field, len, cfg, ErrorContext, true);
	*field = masked != NULL ? masked : (char *) withheld;
}

/*
 * The statement PostgreSQL prints after the message comes from
 * debug_query_string, which it reads after this hook returns: point it at a
 * masked copy, kept (outside ErrorContext) until the next statement.
 */
static void
mask_log_statement(const pii_mask_config *cfg)
{
	char	   *masked;

	if (debug_query_string == NULL || debug_query_string == masked_stmt)
		return;
	if (masked_stmt != NULL && masked_stmt_source != NULL &&
		strcmp(masked_stmt_source, debug_query_string) == 0)
	{
		debug_query_string = masked_stmt;
		return;
	}
	masked = mask_text(debug_query_string, strlen(debug_query_string), cfg,
					   TopMemoryContext, true);
	if (masked_stmt != NULL)
		pfree(masked_stmt);
	if (masked_stmt_source != NULL)
		pfree(masked_stmt_source);
	masked_stmt = masked;
	masked_stmt_source = masked == NULL ? NULL :
		MemoryContextAllocExtended(TopMemoryContext, strlen(debug_query_string) + 1,
								   MCXT_ALLOC_NO_OOM);
	if (masked_stmt_source != NULL)
		strcpy(masked_stmt_source, debug_query_string);
	debug_query_string = masked != NULL ? masked : withheld;
}

/*
 * Credentials passed to warden's own functions are not PII a scanner can
 * recognise (a password is any string), so a logged statement that calls
 * one has the string literals of its argument list replaced by '***', and
 * a "parameters:" detail of such a statement has every value replaced.
 */
static const char *const credential_functions[] = {
	"login", "refresh", "verify", "revoke", "set_password", "create_user",
	"client_credentials", "verify_api_key", "revoke_api_key", "mfa_confirm",
	"encrypt", "decrypt", "reencrypt", "mask", "mask_jsonb", "mask_value",
	"find_pii", "pseudonym"
};

static bool
is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || (unsigned char) c >= 0x80;
}

/* Does text call warden.<credential function>( ? */
static const char *
find_credential_call(const char *text, const char *from)
{
	const char *p = from;

	while ((p = strstr(p, "warden.")) != NULL)
	{
		const char *name = p + 7;
		size_t		n = 0;
		int			i;

		while (is_ident_char(name[n]))
			n++;
		p = name;
		for (i = 0; i < (int) lengthof(credential_functions); i++)
			if (strlen(credential_functions[i]) == n &&
				strncmp(name, credential_functions[i], n) == 0)
			{
				const char *q = name + n;

				while (*q == ' ' || *q == '\t' || *q == '\n')
					q++;
				if (*q == '(')
					return q;
			}
	}
	return NULL;
}

/*
 * Replaces, in place, the string literals inside the parentheses that open
 * at paren (and nested ones) by '***'-padded text of the same length, so the
 * text keeps its size. Handles '' escapes and E'' strings' backslashes.
 */
static void
redact_literals(char *paren)
{
	char	   *p = paren + 1;
	int			depth = 1;

	while (*p != '\0' && depth > 0)
	{
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (*p == '\'')
		{
			bool		escapes = p > paren && (p[-1] == 'E' || p[-1] == 'e');
			char	   *body = ++p;

			while (*p != '\0')
			{
				if (escapes && *p == '\\' && p[1] != '\0')
					p += 2;
				else if (*p == '\'' && p[1] == '\'')
					p += 2;
				else if (*p == '\'')
					break;
				else
					p++;
			}
			memset(body, '*', p - body);
			if (*p == '\0')
				break;
		}
		p++;
	}
}

/* Masks the literals of every credential call in a (writable) text. */
static bool
redact_credential_calls(char *text)
{
	const char *from = text;
	const char *paren;
	bool		any = false;

	while ((paren = find_credential_call(text, from)) != NULL)
	{
		redact_literals((char *) paren);
		from = paren + 1;
		any = true;
	}
	return any;
}

/* A "parameters: $1 = '...', $2 = '...'" detail: every value hidden. */
static void
redact_parameters(char *detail)
{
	char	   *p = strstr(detail, "parameters:");

	if (p == NULL)
		return;
	for (p = strchr(p, '\''); p != NULL; p = strchr(p + 1, '\''))
	{
		char	   *body = ++p;

		while (*p != '\0' && !(*p == '\'' && p[1] != '\''))
			p += (*p == '\'' && p[1] == '\'') ? 2 : 1;
		memset(body, '*', p - body);
		if (*p == '\0')
			break;
	}
}

static void
warden_emit_log(ErrorData *edata)
{
	int			save_errno = errno;

	if (warden_mask_logs && !in_log_hook && edata->output_to_server)
	{
		pii_mask_config cfg;

		in_log_hook = true;
		mask_config(&cfg, true);
		/* the masked copies below are writable: credentials are hidden in them */
		mask_log_field(&edata->message, &cfg);
		mask_log_field(&edata->detail, &cfg);
		mask_log_field(&edata->detail_log, &cfg);
		mask_log_field(&edata->hint, &cfg);
		mask_log_field(&edata->context, &cfg);
		mask_log_field(&edata->internalquery, &cfg);
		mask_log_statement(&cfg);
		if (edata->message != withheld &&
			(redact_credential_calls(edata->message) |
			 (edata->internalquery != NULL && edata->internalquery != withheld &&
			  redact_credential_calls(edata->internalquery)) |
			 (masked_stmt != NULL && debug_query_string == masked_stmt &&
			  redact_credential_calls(masked_stmt))))
		{
			if (edata->detail != NULL && edata->detail != withheld)
				redact_parameters(edata->detail);
			if (edata->detail_log != NULL && edata->detail_log != withheld)
				redact_parameters(edata->detail_log);
		}
		in_log_hook = false;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
	errno = save_errno;
}

void
warden_install_log_hook(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = warden_emit_log;
}

/* --- SQL functions ------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(warden_mask);

/* warden.mask(text) returns text */
Datum
warden_mask(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	pii_mask_config cfg;

	mask_hash_key_load();
	mask_config(&cfg, true);
	PG_RETURN_TEXT_P(cstring_to_text(mask_text(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
											   &cfg, CurrentMemoryContext, false)));
}

/*
 * The type a JSON key names, when its whole value is personal data or a
 * secret whatever it looks like.
 */
static bool
json_key_type(const char *key, pii_type *t)
{
	static const struct
	{
		const char *word;
		pii_type	type;
	}			words[] = {
		{"email", PII_EMAIL}, {"mail", PII_EMAIL},
		{"phone", PII_PHONE}, {"mobile", PII_PHONE}, {"msisdn", PII_PHONE},
		{"card", PII_CARD}, {"pan", PII_CARD},
		{"iban", PII_IBAN},
		{"ssn", PII_SSN}, {"social_security", PII_SSN},
		{"ip", PII_IPV4}, {"ip_address", PII_IPV4},
		{"password", PII_SECRET}, {"passwd", PII_SECRET}, {"pwd", PII_SECRET},
		{"secret", PII_SECRET}, {"token", PII_SECRET},
		{"api_key", PII_API_KEY}, {"apikey", PII_API_KEY},
		{"authorization", PII_BEARER}, {"credential", PII_SECRET},
	};
	char		norm[64];
	size_t		n = 0;
	size_t		i;

	/* lower case, - and . and space as _, so "E-Mail" and "api-key" match */
	for (i = 0; key[i] != '\0' && n < sizeof(norm) - 1; i++)
	{
		char		c = key[i];

		if (c >= 'A' && c <= 'Z')
			c = c - 'A' + 'a';
		if (c == '-' || c == '.' || c == ' ')
			c = '_';
		norm[n++] = c;
	}
	norm[n] = '\0';
	for (i = 0; i < lengthof(words); i++)
	{
		size_t		wl = strlen(words[i].word);
		const char *hit = strstr(norm, words[i].word);

		/* the word as a whole part of the key: user_email, email, emails */
		while (hit != NULL)
		{
			bool		start_ok = hit == norm || hit[-1] == '_';
			bool		end_ok = hit[wl] == '\0' || hit[wl] == '_' ||
				(hit[wl] == 's' && (hit[wl + 1] == '\0' || hit[wl + 1] == '_'));

			if (start_ok && end_ok)
			{
				*t = words[i].type;
				return true;
			}
			hit = strstr(hit + 1, words[i].word);
		}
	}
	return false;
}

/*
 * The token that replaces a whole value of type t: [EMAIL], or with the
 * hash style [EMAIL:<12 hex digits of its HMAC>]; NULL when the type's
 * style is off. A whole value is never partly shown. Never fails.
 */
static const char *
whole_value_token(pii_type t, const pii_mask_config *cfg, const char *value,
				  char *buf, size_t bufsize)
{
	char		name[32];
	int			i;

	if (cfg->style[t] == PII_STYLE_OFF)
		return NULL;
	strlcpy(name, pii_type_name(t), sizeof(name));
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char) (name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	if (cfg->style[t] == PII_STYLE_HASH && cfg->hmac_key != NULL)
	{
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;

		if (HMAC(EVP_sha256(), cfg->hmac_key, cfg->hmac_key_len,
				 (const unsigned char *) value, strlen(value), mac, &maclen) != NULL)
		{
			char		hex[PII_HASH_HEX + 1];

			for (i = 0; i < PII_HASH_HEX / 2; i++)
				snprintf(hex + 2 * i, 3, "%02x", mac[i]);
			snprintf(buf, bufsize, "[%s:%s]", name, hex);
			return buf;
		}
	}
	snprintf(buf, bufsize, "[%s]", name);
	return buf;
}

/*
 * Masks a jansson value in place: strings scanned, values under keys that
 * name personal data replaced whole. Returns false on out of memory. Never
 * throws: it runs while jansson objects are alive.
 */
static bool
mask_json(json_t *v, const pii_mask_config *cfg, int depth)
{
	if (depth > 200)
		return false;
	if (json_is_object(v))
	{
		const char *key;
		json_t	   *child;
		void	   *tmp;

		json_object_foreach_safe(v, tmp, key, child)
		{
			pii_type	t;

			if (json_key_type(key, &t) && !json_is_object(child) &&
				!json_is_array(child) && !json_is_null(child))
			{
				char		buf[64];
				char	   *text = json_is_string(child) ?
					strdup(json_string_value(child)) :
					json_dumps(child, JSON_ENCODE_ANY);
				const char *token = text ? whole_value_token(t, cfg, text, buf, sizeof(buf)) : NULL;

				if (text == NULL)
					return false;
				if (token != NULL && json_object_set_new(v, key, json_string(token)) != 0)
				{
					free(text);
					return false;
				}
				free(text);
			}
			else if (!mask_json(child, cfg, depth + 1))
				return false;
		}
	}
	else if (json_is_array(v))
	{
		size_t		i;
		json_t	   *child;

		json_array_foreach(v, i, child)
			if (!mask_json(child, cfg, depth + 1))
			return false;
	}
	else if (json_is_string(v))
	{
		const char *s = json_string_value(v);
		size_t		len = json_string_length(v);
		size_t		outlen = 0;
		char	   *out;

		/* the first call only measures */
		if (pii_mask(s, len, cfg, NULL, 0, &outlen) != PII_ERR_SPACE)
			return false;
		out = malloc(outlen + 1);
		if (out == NULL ||
			pii_mask(s, len, cfg, out, outlen + 1, &outlen) != PII_OK ||
			((outlen != len || memcmp(out, s, len) != 0) &&
			 json_string_setn(v, out, outlen) != 0))
		{
			free(out);
			return false;
		}
		free(out);
	}
	return true;
}

PG_FUNCTION_INFO_V1(warden_mask_jsonb);

/* warden.mask_jsonb(jsonb) returns jsonb */
Datum
warden_mask_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *in = PG_GETARG_JSONB_P(0);
	char	   *text = JsonbToCString(NULL, &in->root, VARSIZE(in));
	pii_mask_config cfg;
	json_t	   *doc;
	char	   *dumped = NULL;
	char	   *result = NULL;
	bool		ok;

	mask_hash_key_load();
	mask_config(&cfg, true);

	/* no ereport from here until the jansson objects are freed */
	doc = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	ok = doc != NULL && mask_json(doc, &cfg, 0);
	if (ok)
		dumped = json_dumps(doc, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(doc);
	if (dumped != NULL)
	{
		result = pstrdup(dumped);
		free(dumped);
	}
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not mask the document")));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(result)));
}

PG_FUNCTION_INFO_V1(warden_find_pii);

/*
 * warden.find_pii(text) returns table(type text, start integer, length
 * integer): every finding, start and length in characters (start 1-based,
 * as substr() counts).
 */
Datum
warden_find_pii(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	pii_scanner sc;
	pii_finding f;

	InitMaterializedSRF(fcinfo, 0);
	pii_scanner_init(&sc, s, len, PII_ALL);
	while (pii_scanner_next(&sc, &f))
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(pii_type_name(f.type));
		values[1] = Int32GetDatum(pg_mbstrlen_with_len(s, (int) f.offset) + 1);
		values[2] = Int32GetDatum(pg_mbstrlen_with_len(s + f.offset, (int) f.length));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(warden_mask_value);

/*
 * warden.mask_value(value text, style text) returns text: a column value
 * masked whole, for the views of warden.mask_column():
 *   full     [EMAIL] when the value is one piece of PII of a known type,
 *            else [REDACTED]
 *   partial  the partial form of its type (j***@example.com), else its
 *            first character and ***
 *   hash     [<TYPE or VALUE>:<12 hex digits of its keyed HMAC>]
 *   scan     only the PII found in it masked (warden.mask)
 */
Datum
warden_mask_value(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *style = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *s = VARDATA_ANY(t);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	pii_finding f;
	size_t		count = 0;
	bool		whole;
	pii_mask_config cfg;
	pii_style	st;
	char		buf[64];

	if (strcmp(style, "scan") == 0)
	{
		mask_hash_key_load();
		mask_config(&cfg, true);
		PG_RETURN_TEXT_P(cstring_to_text(mask_text(s, len, &cfg, CurrentMemoryContext, false)));
	}
	if (!pii_style_parse(style, strlen(style), &st) || st == PII_STYLE_OFF)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown masking style \"%s\"", style),
				 errhint("The styles are full, partial, hash and scan.")));
	if (len == 0)
		PG_RETURN_TEXT_P(t);

	(void) pii_scan(s, len, PII_ALL, &f, 1, &count);
	whole = count == 1 && f.offset == 0 && f.length == len;
	if (st == PII_STYLE_HASH)
		mask_hash_key_load();
	pii_mask_config_init(&cfg, st);
	if (st == PII_STYLE_HASH)
	{
		cfg.hmac_key = hash_key;
		cfg.hmac_key_len = sizeof(hash_key);
	}
	if (whole)
		PG_RETURN_TEXT_P(cstring_to_text(mask_text(s, len, &cfg, CurrentMemoryContext, false)));

	/* not recognisable PII: masked all the same, without a type */
	if (st == PII_STYLE_FULL)
		PG_RETURN_TEXT_P(cstring_to_text("[REDACTED]"));
	if (st == PII_STYLE_PARTIAL)
	{
		int			first = pg_mblen(s);

		PG_RETURN_TEXT_P(cstring_to_text(psprintf("%.*s***", Min(first, (int) len), s)));
	}
	{
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;
		int			i;
		char		hex[PII_HASH_HEX + 1];

		if (HMAC(EVP_sha256(), hash_key, sizeof(hash_key), (const unsigned char *) s,
				 len, mac, &maclen) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not compute an HMAC")));
		for (i = 0; i < PII_HASH_HEX / 2; i++)
			snprintf(hex + 2 * i, 3, "%02x", mac[i]);
		snprintf(buf, sizeof(buf), "[VALUE:%s]", hex);
		PG_RETURN_TEXT_P(cstring_to_text(buf));
	}
}
