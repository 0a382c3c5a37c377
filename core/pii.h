/*
 * pii.h
 *		Finds personal data and credentials in text in one pass, and masks
 *		them. The extension's log hook and SQL functions and the edge's
 *		logs all use it.
 *
 * Detectors (pii_type):
 *   email    local@domain.tld: local part of [A-Za-z0-9._%+-] and bytes
 *            >= 0x80 (UTF-8 names), at most 64 bytes; domain of two or more
 *            ASCII labels, the last alphabetic. IDN domains are not found.
 *   phone    E.164 (+ then 8..15 digits, groups split by ' ', '-', '.',
 *            "(0)" allowed); North American (555) 123-4567, 555-123-4567,
 *            555.123.4567, 555 123 4567, optionally after "1 "/"1-" (area
 *            code 2..9); trunk-prefix national numbers of 10 or 11 digits in
 *            2..5 groups split by one kind of ' ', '-' or '/' (020 7946 0958,
 *            07700 900123, 01 23 45 67 89). Bare runs of digits are not
 *            phones.
 *   card     13..19 digits, contiguous or in the printed layouts 4-4-4-4,
 *            4-4-4-4-3, 4-4-4-3, 4-6-5, 4-6-4 with one kind of ' ' or '-';
 *            first digit 2..6 (the issuer ranges of Visa, Mastercard, Amex,
 *            Discover, JCB, Diners, UnionPay); Luhn-valid only.
 *   iban     country code of the IBAN registry, exactly that country's
 *            length, compact or in groups of four split by single spaces,
 *            upper case only, mod-97 valid only.
 *   ipv4     dotted quad, octets 0..255 without leading zeros; a ":port"
 *            after it is not part of the finding (127.0.0.1:8080 finds
 *            127.0.0.1), neither is a "/prefix".
 *   ipv6     RFC 4291 text forms, with "::" and a trailing dotted quad;
 *            eight groups, or fewer with "::", then at least two groups and
 *            a decimal digit (so clock times, MAC addresses and C++'s a::b
 *            are not addresses). Zone ("%eth0") and "/prefix" are left out.
 *   ssn      US social security number ddd-dd-dddd, area not 000, 666 or
 *            900..999, group not 00, serial not 0000.
 *   jwt      compact JWS (3 segments, "eyJ" header) or JWE (5 segments).
 *   bearer   the credential after the word "Bearer" (any case) and a space:
 *            an RFC 6750 token of at least 16 characters with a digit, a
 *            symbol or both cases. "Bearer" itself stays in the text.
 *   api_key  warden's own credentials: API keys wdn_<12 [a-z0-9]>_<43
 *            base64url> and refresh tokens wrt_<43 base64url> (one type:
 *            both are bearer secrets of warden).
 *   secret   the value of a key/value pair whose key names a secret:
 *            key=value, key => value, "key": "value", key: value (the last
 *            only when the key opens a line or follows {,;([&?|"'), and SQL's
 *            PASSWORD 'value'. A key names a secret when it ends, at a word
 *            boundary (_ - . or camelCase or an all-caps name), with
 *            password, passwd, pwd, passphrase, secret, token, apikey,
 *            api_key, api-key, private_key, privatekey, private-key,
 *            secret_key, secretkey, access_key, accesskey, credential(s),
 *            sessionid, session_id. The value is the quoted string (without
 *            quotes; \" quoting inside JSON strings is understood) or the
 *            unquoted run up to white space or one of " ' , ; & } ] ) < > \.
 *            Empty values, null/true/false/none/nil, values of only '*',
 *            [PLACEHOLDERS] and warden's own mask tokens are not secrets.
 *            Also the password of URL credentials: in
 *            postgresql://app:s3cret@db.example.com/orders it is s3cret
 *            (and db.example.com is not taken for an email domain).
 *
 * Findings are in text order and never overlap. Scanning goes left to
 * right and the first finding to start wins; a finding's context wins over
 * its content: a secret value is one SECRET finding even when it is an
 * email or a JWT, and the token after "Bearer" is one BEARER finding even
 * when it is a JWT or a warden key. A type left out of the scan's mask does
 * not exist at all, so its content types are found instead (with SECRET
 * off, "password=alice@example.com" finds an email).
 *
 * Every finding is delimited: it does not continue a word or a number
 * (alice@example.com inside xalice@example.comx is nothing, a card number
 * followed by more digits is nothing, 1.2.3.4.5 is no address), and the
 * scanner sees the text just after a finding as if the text began there.
 * Numbers written in space-separated groups end at the longest run of whole
 * groups that ends well ("+44 20 7946 0958 192.0.2.1" is a phone and an
 * address); a digit group right after another one and a space is the tail
 * of a longer number, not a number of its own. Text in the form of an IBAN
 * whose check fails is skipped whole (its digit groups are no phone).
 *
 * Masking is stable: the masked text of any text, in any style, holds no
 * finding of the masked types, so masking twice changes nothing (the fuzz
 * target checks this). For that the scanner skips mask tokens ([EMAIL],
 * [EMAIL:0123456789ab]) and partially masked emails (j***@domain), no
 * finding ends before '[' or starts or ends next to '*' (the mask
 * character), and masked text after a number or address counts as the
 * digits it replaced. The cost is that numbers already next to '*' in the
 * input are not found ("card=****-****-****-4242", "pw=*** 192.0.2.1").
 *
 * The scan is one pass over the bytes with a fixed, small state and no
 * allocation: a 256-entry table lets the loop skip every byte that can
 * neither start nor end a finding, and the detectors look closer only at
 * triggers (a digit, '+', '(' or an upper-case letter, 'e', 'b' or 'w' at
 * the start of a word; '@', '=', ':', '\'' and '['). Every look-back and
 * look-ahead is bounded or moves the scan past what it read, so time is
 * linear in the input whatever the bytes; invalid UTF-8 and NUL are just
 * bytes that match nothing.
 *
 * Functions keep no global state and are safe to call from many threads at
 * once. Error strings are fixed and never contain input.
 */
#ifndef WARDEN_PII_H
#define WARDEN_PII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pii_type
{
	PII_EMAIL = 0,
	PII_PHONE,
	PII_CARD,
	PII_IBAN,
	PII_IPV4,
	PII_IPV6,
	PII_SSN,
	PII_JWT,
	PII_BEARER,
	PII_API_KEY,
	PII_SECRET
} pii_type;

#define PII_TYPE_COUNT	11
#define PII_BIT(t)		((uint32_t) 1 << (t))
#define PII_ALL			(PII_BIT(PII_TYPE_COUNT) - 1)

typedef enum pii_status
{
	PII_OK = 0,
	PII_ERR_SPACE,				/* output array or buffer too small */
	PII_ERR_ARG,				/* a NULL pointer or an unknown style */
	PII_ERR_KEY,				/* hash style without a key of at least
								 * PII_HASH_KEY_MIN bytes */
	PII_ERR_CRYPTO				/* OpenSSL failed */
} pii_status;

typedef struct pii_finding
{
	pii_type	type;
	size_t		offset;			/* bytes from the start of the text */
	size_t		length;			/* bytes, never 0 */
} pii_finding;

/*
 * Scanner state for pii_scanner_next, which returns one finding at a time
 * without any buffer (the masker and the log hook use this form). The
 * fields are private.
 */
typedef struct pii_scanner
{
	const unsigned char *text;
	size_t		len;
	size_t		pos;			/* where the scan resumes */
	size_t		floor;			/* end of the last finding */
	uint32_t	types;
	/* no closing quote of kind k in [memo_from[k], memo_to[k]) */
	size_t		memo_from[3];
	size_t		memo_to[3];
} pii_scanner;

/* "email", "phone", ..., "api_key", "secret"; NULL for an unknown type. */
extern const char *pii_type_name(pii_type type);

/*
 * The type of a name of pii_type_name (any case), of name[0..len). Returns
 * false for an unknown name.
 */
extern bool pii_type_parse(const char *name, size_t len, pii_type *out);

/*
 * Sets up a scan of text[0..len) for the types in types_mask (PII_BIT of
 * each, or PII_ALL). The text need not be NUL-terminated and must stay
 * alive while the scanner is used.
 */
extern void pii_scanner_init(pii_scanner *s, const char *text, size_t len,
							 uint32_t types_mask);

/* The next finding, in text order; false at the end of the text. */
extern bool pii_scanner_next(pii_scanner *s, pii_finding *out);

/*
 * Every finding of text[0..len) of the types in types_mask, in text order.
 * Writes at most max findings into out (out may be NULL when max is 0) and
 * sets *count to the number of findings in the text; PII_ERR_SPACE when
 * that is more than max (the first max are in out).
 */
extern pii_status pii_scan(const char *text, size_t len, uint32_t types_mask,
						   pii_finding *out, size_t max, size_t *count);

/*
 * Masking styles, set per type. PII_STYLE_OFF (0) leaves the type alone (it
 * is not even scanned for), so a zeroed pii_mask_config masks nothing.
 *
 * full     [EMAIL], [PHONE], [CARD], [IBAN], [IPV4], [IPV6], [SSN], [JWT],
 *          [BEARER], [API_KEY], [SECRET]
 * partial  keeps a hint and the layout:
 *            email  first character of the local part (a whole UTF-8
 *                   character) + "***" + "@domain":  j***@example.com
 *            phone  every digit but the last two becomes '*', separators
 *                   and '+' stay:  +* (***) ***-**67
 *            card   every digit but the last four becomes '*', the
 *                   separators stay as they were:  ****-****-****-4242,
 *                   **** **** **** 4242, ************4242
 *            iban   country code and last four characters stay, spaces
 *                   stay:  DE** **** **** **** **30 00
 *            ipv4   first octet:  192.*.*.*
 *            ipv6   first two groups (one when "::" comes sooner):
 *                   2001:db8:*, fe80:*
 *            ssn    last four digits:  ***-**-6789
 *            jwt, bearer, api_key, secret: as full (no part of a
 *                   credential is ever shown)
 * hash     [EMAIL:0123456789ab]: the first 12 hex digits of
 *          HMAC-SHA256(key, value), so equal values mask to equal tokens
 *          and a DBA can still join on them without seeing them. The value
 *          is normalised first so that one datum in two spellings joins:
 *          email in ASCII lower case; card and ssn their digits; phone its
 *          '+' if any and its digits; iban without spaces; ipv6 in lower
 *          case; every other type as found.
 */
typedef enum pii_style
{
	PII_STYLE_OFF = 0,
	PII_STYLE_FULL,
	PII_STYLE_PARTIAL,
	PII_STYLE_HASH
} pii_style;

#define PII_STYLE_COUNT		4
/* Shortest HMAC key accepted for PII_STYLE_HASH. */
#define PII_HASH_KEY_MIN	16
/* Hex digits of the HMAC in a hash token. */
#define PII_HASH_HEX		12
/* Longest mask token: "[API_KEY:" + 12 hex digits + "]". */
#define PII_MASK_TOKEN_MAX	22

typedef struct pii_mask_config
{
	pii_style	style[PII_TYPE_COUNT];
	const unsigned char *hmac_key;	/* for PII_STYLE_HASH */
	size_t		hmac_key_len;
} pii_mask_config;

/* "off", "full", "partial", "hash"; NULL for an unknown style. */
extern const char *pii_style_name(pii_style style);

/* The style of a name of pii_style_name (any case), of name[0..len). */
extern bool pii_style_parse(const char *name, size_t len, pii_style *out);

/* Sets every type to style, with no key. */
extern void pii_mask_config_init(pii_mask_config *cfg, pii_style style);

/*
 * The longest masked text an input of len bytes can give, without the
 * terminator: len + 4.5 * len (every finding, with the key of a secret,
 * takes at least 4 bytes of input and grows by at most 18, or 21 for a
 * one-byte secret that needs 4 bytes of key and separator), SIZE_MAX when
 * that overflows. Real texts shrink or stay nearly the same size; the
 * exact size is what pii_mask reports on PII_ERR_SPACE.
 */
extern size_t pii_mask_len_max(size_t len);

/*
 * Writes text[0..len) with every finding of a type whose style is not OFF
 * replaced as its style says, NUL-terminated, into out[0..outsize). On
 * PII_OK *outlen is the masked length (without the terminator). On
 * PII_ERR_SPACE *outlen is the length needed (again without the
 * terminator): call again with outsize > *outlen; out may be NULL when
 * outsize is 0 to ask for the length only. Valid UTF-8 masks to valid
 * UTF-8. On other errors *outlen is 0.
 */
extern pii_status pii_mask(const char *text, size_t len,
						   const pii_mask_config *cfg, char *out,
						   size_t outsize, size_t *outlen);

extern const char *pii_strerror(pii_status status);

#endif							/* WARDEN_PII_H */
