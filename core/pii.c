/*
 * pii.c
 *		Single-pass scanner and masker of personal data and credentials
 *		(see pii.h for what is found and how it is masked).
 *
 * How the scan works. pii_scanner_next walks the text once, left to right.
 * A 256-entry table (pii_hot) marks the bytes that may trigger a detector:
 * punctuation triggers ('@' email, '=' and ':' secrets, ':' IPv6, '+' and
 * '(' phones, '\'' SQL passwords, '[' mask tokens) and word-start triggers
 * (a digit, an upper-case letter, 'e', 'b', 'w'), which count only after
 * a byte that is not a word character. The skip loop carries the previous
 * byte's class along, so deciding "nothing here" costs one table load and
 * a few bit operations per byte.
 *
 * At a trigger a detector looks closer. Detectors that start at their
 * trigger (numbers, JWT, Bearer, keys, IBAN) read forward; the others look
 * back a bounded distance (an email's local part: 64 bytes; a secret's key:
 * 64 bytes and a few blanks; an IPv6 address's first group: 4 hex digits)
 * but never before the end of the last finding (s->floor), which is treated
 * as the start of the text. Every forward read is bounded (numbers,
 * addresses, emails, IBANs, keys) or, when it is not (JWT segments, bearer
 * tokens, unquoted secret values), it reads a run that no later trigger can
 * start inside, or it is skipped over on success. Quoted secret values are
 * searched for their closing quote up to the end of the line, and what a
 * search has read without finding one is remembered (memo_from, memo_to),
 * so no byte is searched twice. The work per input byte is thus
 * bounded by a constant: time is linear whatever the input.
 *
 * The masker (pii_mask) pulls findings from the scanner and copies the text
 * between them; hash tokens use one HMAC context per call, created on the
 * first hashed finding, re-initialised with the same key for each value.
 */
#include "pii.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* --- character classes --------------------------------------------------- */

#define CC_DIGIT	0x0001
#define CC_UPPER	0x0002
#define CC_LOWER	0x0004
#define CC_HEX		0x0008
#define CC_WORD		0x0010		/* [A-Za-z0-9_]: what a finding must not
								 * continue */
#define CC_B64		0x0020		/* base64url [A-Za-z0-9_-] */
#define CC_LOCAL	0x0040		/* email local part [A-Za-z0-9._%+-] (and
								 * bytes >= 0x80, see is_local) */
#define CC_KEY		0x0080		/* secret key names [A-Za-z0-9_.-] */
#define CC_TOK		0x0100		/* RFC 6750 b64token [A-Za-z0-9._~+/-] */
#define CC_VEND		0x0200		/* ends an unquoted secret value (and every
								 * byte <= 0x20, see is_vend) */
#define CC_DOM		0x0400		/* domain labels [A-Za-z0-9-] */
#define CC_BLANK	0x0800		/* space, tab */

#define CC_ALNUM	(CC_WORD | CC_B64 | CC_LOCAL | CC_KEY | CC_TOK | CC_DOM)
#define CC_LOW_HEX	(CC_LOWER | CC_HEX | CC_ALNUM)
#define CC_LOW		(CC_LOWER | CC_ALNUM)
#define CC_UP_HEX	(CC_UPPER | CC_HEX | CC_ALNUM)
#define CC_UP		(CC_UPPER | CC_ALNUM)
#define CC_DIG		(CC_DIGIT | CC_HEX | CC_ALNUM)

static const uint16_t pii_cc[256] = {
	['\t'] = CC_BLANK, [' '] = CC_BLANK,
	['"'] = CC_VEND, ['%'] = CC_LOCAL, ['&'] = CC_VEND, ['\''] = CC_VEND,
	[')'] = CC_VEND, ['+'] = CC_LOCAL | CC_TOK, [','] = CC_VEND,
	['-'] = CC_B64 | CC_LOCAL | CC_KEY | CC_TOK | CC_DOM,
	['.'] = CC_LOCAL | CC_KEY | CC_TOK, ['/'] = CC_TOK,
	[';'] = CC_VEND, ['<'] = CC_VEND, ['>'] = CC_VEND, ['\\'] = CC_VEND,
	[']'] = CC_VEND, ['}'] = CC_VEND, ['~'] = CC_TOK,
	['_'] = CC_WORD | CC_B64 | CC_LOCAL | CC_KEY | CC_TOK,
	['0'] = CC_DIG, ['1'] = CC_DIG, ['2'] = CC_DIG, ['3'] = CC_DIG,
	['4'] = CC_DIG, ['5'] = CC_DIG, ['6'] = CC_DIG, ['7'] = CC_DIG,
	['8'] = CC_DIG, ['9'] = CC_DIG,
	['A'] = CC_UP_HEX, ['B'] = CC_UP_HEX, ['C'] = CC_UP_HEX,
	['D'] = CC_UP_HEX, ['E'] = CC_UP_HEX, ['F'] = CC_UP_HEX,
	['G'] = CC_UP, ['H'] = CC_UP, ['I'] = CC_UP, ['J'] = CC_UP,
	['K'] = CC_UP, ['L'] = CC_UP, ['M'] = CC_UP, ['N'] = CC_UP,
	['O'] = CC_UP, ['P'] = CC_UP, ['Q'] = CC_UP, ['R'] = CC_UP,
	['S'] = CC_UP, ['T'] = CC_UP, ['U'] = CC_UP, ['V'] = CC_UP,
	['W'] = CC_UP, ['X'] = CC_UP, ['Y'] = CC_UP, ['Z'] = CC_UP,
	['a'] = CC_LOW_HEX, ['b'] = CC_LOW_HEX, ['c'] = CC_LOW_HEX,
	['d'] = CC_LOW_HEX, ['e'] = CC_LOW_HEX, ['f'] = CC_LOW_HEX,
	['g'] = CC_LOW, ['h'] = CC_LOW, ['i'] = CC_LOW, ['j'] = CC_LOW,
	['k'] = CC_LOW, ['l'] = CC_LOW, ['m'] = CC_LOW, ['n'] = CC_LOW,
	['o'] = CC_LOW, ['p'] = CC_LOW, ['q'] = CC_LOW, ['r'] = CC_LOW,
	['s'] = CC_LOW, ['t'] = CC_LOW, ['u'] = CC_LOW, ['v'] = CC_LOW,
	['w'] = CC_LOW, ['x'] = CC_LOW, ['y'] = CC_LOW, ['z'] = CC_LOW,
};

/*
 * The skip loop's table. H_WORD must be bit 0 and H_WSTART bit 1: the loop
 * shifts the previous byte's H_WORD onto H_WSTART to cancel word-start
 * triggers inside words.
 */
#define H_WORD		1
#define H_WSTART	2
#define H_PUNCT		4
#define H_W			H_WORD
#define H_WS		(H_WORD | H_WSTART)

static const uint8_t pii_hot[256] = {
	['@'] = H_PUNCT, ['='] = H_PUNCT, [':'] = H_PUNCT, ['+'] = H_PUNCT,
	['('] = H_PUNCT, ['['] = H_PUNCT, ['\''] = H_PUNCT,
	['_'] = H_W,
	['0'] = H_WS, ['1'] = H_WS, ['2'] = H_WS, ['3'] = H_WS, ['4'] = H_WS,
	['5'] = H_WS, ['6'] = H_WS, ['7'] = H_WS, ['8'] = H_WS, ['9'] = H_WS,
	['A'] = H_WS, ['B'] = H_WS, ['C'] = H_WS, ['D'] = H_WS, ['E'] = H_WS,
	['F'] = H_WS, ['G'] = H_WS, ['H'] = H_WS, ['I'] = H_WS, ['J'] = H_WS,
	['K'] = H_WS, ['L'] = H_WS, ['M'] = H_WS, ['N'] = H_WS, ['O'] = H_WS,
	['P'] = H_WS, ['Q'] = H_WS, ['R'] = H_WS, ['S'] = H_WS, ['T'] = H_WS,
	['U'] = H_WS, ['V'] = H_WS, ['W'] = H_WS, ['X'] = H_WS, ['Y'] = H_WS,
	['Z'] = H_WS,
	['a'] = H_W, ['b'] = H_WS, ['c'] = H_W, ['d'] = H_W, ['e'] = H_WS,
	['f'] = H_W, ['g'] = H_W, ['h'] = H_W, ['i'] = H_W, ['j'] = H_W,
	['k'] = H_W, ['l'] = H_W, ['m'] = H_W, ['n'] = H_W, ['o'] = H_W,
	['p'] = H_W, ['q'] = H_W, ['r'] = H_W, ['s'] = H_W, ['t'] = H_W,
	['u'] = H_W, ['v'] = H_W, ['w'] = H_WS, ['x'] = H_W, ['y'] = H_W,
	['z'] = H_W,
};

static const char *const pii_names[PII_TYPE_COUNT] = {
	"email", "phone", "card", "iban", "ipv4", "ipv6", "ssn", "jwt", "bearer",
	"api_key", "secret"
};

/* Mask labels: the names in upper case. */
static const char *const pii_labels[PII_TYPE_COUNT] = {
	"EMAIL", "PHONE", "CARD", "IBAN", "IPV4", "IPV6", "SSN", "JWT", "BEARER",
	"API_KEY", "SECRET"
};

static const char *const pii_style_names[PII_STYLE_COUNT] = {
	"off", "full", "partial", "hash"
};

/* The class of byte c, where c may be -1 (before or after the text). */
static inline unsigned
cc(int c)
{
	return c < 0 ? 0 : pii_cc[c];
}

static inline bool
is_digit(int c)
{
	return (cc(c) & CC_DIGIT) != 0;
}

static inline bool
is_local(int c)
{
	return c >= 0x80 || (cc(c) & CC_LOCAL) != 0;
}

static inline bool
is_vend(int c)
{
	return c <= 0x20 || c == 0x7f || (cc(c) & CC_VEND) != 0;
}

static inline int
lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* The byte at i, or -1 past the end of the text. */
static inline int
at(const pii_scanner *s, size_t i)
{
	return i < s->len ? s->text[i] : -1;
}

/*
 * The byte `back` places before i, or -1 when that is before the text or
 * before the end of the last finding, which is seen as a start of text.
 */
static inline int
before(const pii_scanner *s, size_t i, size_t back)
{
	return i >= s->floor + back ? s->text[i - back] : -1;
}

/* Whether text[i..) starts with the lower-case ASCII word w, in any case. */
static bool
ci_prefix(const pii_scanner *s, size_t i, const char *w, size_t wlen)
{
	size_t		k;

	if (wlen > s->len - i)
		return false;
	for (k = 0; k < wlen; k++)
		if (lower(s->text[i + k]) != w[k])
			return false;
	return true;
}

/* Length of the run of bytes of class cls starting at i. */
static size_t
run_of(const pii_scanner *s, size_t i, unsigned cls)
{
	size_t		j = i;

	while (j < s->len && (pii_cc[s->text[j]] & cls))
		j++;
	return j - i;
}

/* --- numbers: IPv4, SSN, card, phone ------------------------------------- */

#define NUM_MAXG	8
#define NUM_RUN_MAX 19

/* A run of digit groups: 555-123-4567, (555) 123 4567, +44 20 7946 0958. */
typedef struct num_tok
{
	int			n;				/* groups */
	bool		plus;			/* started with '+' */
	size_t		ds[NUM_MAXG];	/* first digit of each group */
	uint8_t		dl[NUM_MAXG];	/* digits of each group */
	uint8_t		sep[NUM_MAXG];	/* byte before group k (0: none, after ')') */
	bool		paren[NUM_MAXG];	/* group written as (digits) */
	size_t		end[NUM_MAXG];	/* just after group k (after its ')') */
} num_tok;

/*
 * '*' is what partial masks write, so no finding starts or ends next to
 * one: what a partial mask keeps (j***@, ***-**-6789) never joins the text
 * around it into a new finding.
 */
#define MASK_CHAR	'*'

/*
 * Bytes no finding may end before: a word byte (the finding would go on),
 * '@' (it is an email's local part), the mask character, and '[', which
 * starts every mask token. A candidate that runs into the start of a later
 * finding is refused; after masking, that finding begins with '[', so the
 * candidate is still refused and the masked text scans clean.
 */
static inline bool
bad_end(int c)
{
	return (cc(c) & CC_WORD) || c == '@' || c == MASK_CHAR || c == '[';
}

/*
 * Whether a number may start at i: not inside a word or a number, not in a
 * version (v1.2, 1.2.3 parts), a time (12:30), a date (11/25) or a
 * reference (ORD-2026-1234), not after a mask.
 */
static bool
num_left_ok(const pii_scanner *s, size_t i)
{
	int			p = before(s, i, 1);
	int			q;

	if (p < 0)
		return true;
	if ((cc(p) & CC_WORD) || p == '+' || p == MASK_CHAR)
		return false;
	q = before(s, i, 2);
	/* the group after a masked one: ****-****-****-4242, *** **** 58 */
	if (q == MASK_CHAR)
		return false;
	if (p == '.' || p == '-')
		return !(cc(q) & CC_WORD);
	if (p == ':' || p == '/')
		return !is_digit(q);
	return true;
}

/* Whether c is masked text: the start of a mask token, or a mask. */
static inline bool
is_masked(int c)
{
	return c == '[' || c == MASK_CHAR;
}

/*
 * Whether a number may end at e: not followed by a word, '@' (an email's
 * local part), more of a number ("-1", ".5", ":30", "/27"), a dotted name
 * or an IPv6 group. Masked text counts as the digits or words it replaced.
 */
static bool
num_right_ok(const pii_scanner *s, size_t e)
{
	int			c = at(s, e);
	int			d;

	if (c < 0)
		return true;
	if (bad_end(c))
		return false;
	d = at(s, e + 1);
	if ((c == '.' || c == '-') && ((cc(d) & CC_WORD) || is_masked(d)))
		return false;
	if ((c == '/' || c == '+') && (is_digit(d) || is_masked(d)))
		return false;
	/* ":30" goes on as a time, ":e518" and "::" as an IPv6 address */
	if (c == ':' && ((cc(d) & CC_HEX) || d == ':' || is_masked(d)))
		return false;
	return true;
}

/* Reads the digit groups starting at i (a digit, '+' or '('). */
static void
num_parse(const pii_scanner *s, size_t i, num_tok *t)
{
	const unsigned char *p = s->text;
	size_t		n = s->len;

	t->n = 0;
	t->plus = false;
	if (p[i] == '+')
	{
		t->plus = true;
		i++;
	}
	while (t->n < NUM_MAXG)
	{
		size_t		d = i;
		size_t		cnt = 0;
		bool		paren = false;
		int			k;
		int			c;

		if (d < n && p[d] == '(')
		{
			paren = true;
			d++;
		}
		while (d + cnt < n && cnt <= NUM_RUN_MAX && is_digit(p[d + cnt]))
			cnt++;
		if (cnt == 0 || cnt > NUM_RUN_MAX)
			break;
		if (paren && (cnt > 5 || d + cnt >= n || p[d + cnt] != ')'))
			break;
		k = t->n++;
		t->ds[k] = d;
		t->dl[k] = (uint8_t) cnt;
		t->paren[k] = paren;
		i = d + cnt + (paren ? 1 : 0);
		t->end[k] = i;
		if (k == 0)
			t->sep[0] = 0;
		if (t->n == NUM_MAXG)
			break;
		c = at(s, i);
		if (c == ' ' || c == '-' || c == '.' || c == '/')
		{
			int			d2 = at(s, i + 1);

			if (is_digit(d2) || (d2 == '(' && c == ' '))
			{
				t->sep[k + 1] = (uint8_t) c;
				i++;
				continue;
			}
			break;
		}
		if (paren && is_digit(c))
		{
			t->sep[k + 1] = 0;
			continue;
		}
		break;
	}
}

/* The value of the dl digits at p. */
static unsigned
num_value(const unsigned char *p, size_t dl)
{
	unsigned	v = 0;
	size_t		k;

	for (k = 0; k < dl; k++)
		v = v * 10 + (unsigned) (p[k] - '0');
	return v;
}

/*
 * A dotted quad at i: four octets 0..255 without leading zeros, not
 * followed by another ".digit" or a word. Sets *end after the last octet.
 */
static bool
ipv4_at(const pii_scanner *s, size_t i, size_t *end)
{
	int			k;
	size_t		j = i;
	int			c;

	for (k = 0; k < 4; k++)
	{
		size_t		dl = 0;

		if (k > 0)
		{
			if (at(s, j) != '.')
				return false;
			j++;
		}
		while (dl < 4 && is_digit(at(s, j + dl)))
			dl++;
		if (dl == 0 || dl > 3)
			return false;
		if (dl > 1 && s->text[j] == '0')
			return false;
		if (num_value(s->text + j, dl) > 255)
			return false;
		j += dl;
	}
	c = at(s, j);
	if (bad_end(c))
		return false;
	if (c == '.' && ((cc(at(s, j + 1)) & CC_WORD) || is_masked(at(s, j + 1))))
		return false;
	*end = j;
	return true;
}

/* ddd-dd-dddd with a possible area, group and serial. */
static bool
num_ssn(const pii_scanner *s, const num_tok *t, size_t *end)
{
	const unsigned char *p = s->text;
	unsigned	area;

	if (t->plus || t->n < 3 || t->paren[0] || t->paren[1] || t->paren[2])
		return false;
	if (t->dl[0] != 3 || t->dl[1] != 2 || t->dl[2] != 4 ||
		t->sep[1] != '-' || t->sep[2] != '-')
		return false;
	area = num_value(p + t->ds[0], 3);
	if (area == 0 || area == 666 || area >= 900 ||
		num_value(p + t->ds[1], 2) == 0 || num_value(p + t->ds[2], 4) == 0)
		return false;
	if (!num_right_ok(s, t->end[2]))
		return false;
	*end = t->end[2];
	return true;
}

/* Luhn over the digits of the first m groups. */
static bool
luhn_ok(const unsigned char *p, const num_tok *t, int m)
{
	unsigned	sum = 0;
	bool		dbl = false;
	int			k;

	for (k = m - 1; k >= 0; k--)
	{
		size_t		j = t->dl[k];

		while (j-- > 0)
		{
			unsigned	d = (unsigned) (p[t->ds[k] + j] - '0');

			if (dbl)
			{
				d *= 2;
				if (d > 9)
					d -= 9;
			}
			sum += d;
			dbl = !dbl;
		}
	}
	return sum % 10 == 0;
}

/*
 * Printed layouts of grouped card numbers, longest first: a 19-digit number
 * whose first 16 digits also pass Luhn is one card, and a 16-digit card
 * followed by three more digits that fail it is still found.
 */
static const uint8_t card_layouts[][6] = {
	{4, 4, 4, 4, 3, 0}, {4, 4, 4, 4, 0}, {4, 6, 5, 0}, {4, 4, 4, 3, 0},
	{4, 6, 4, 0}
};

static bool
num_card(const pii_scanner *s, const num_tok *t, size_t *end)
{
	const unsigned char *p = s->text;
	int			first = p[t->ds[0]];
	size_t		li;

	if (t->plus || t->paren[0] || first < '2' || first > '6')
		return false;
	if (t->dl[0] >= 13)
	{
		if (luhn_ok(p, t, 1) && num_right_ok(s, t->end[0]))
		{
			*end = t->end[0];
			return true;
		}
		return false;
	}
	if (t->dl[0] != 4 || t->n < 3 || (t->sep[1] != ' ' && t->sep[1] != '-'))
		return false;
	for (li = 0; li < sizeof(card_layouts) / sizeof(card_layouts[0]); li++)
	{
		const uint8_t *lay = card_layouts[li];
		int			m = 0;
		int			k;
		bool		ok = true;

		while (lay[m] != 0)
			m++;
		if (t->n < m)
			continue;
		for (k = 0; k < m && ok; k++)
			ok = t->dl[k] == lay[k] && !t->paren[k] &&
				(k == 0 || t->sep[k] == t->sep[1]);
		if (!ok)
			continue;
		/* a further group of the same kind means a longer number */
		if (t->n > m && t->sep[m] == t->sep[1] &&
			(t->sep[1] == '-' || t->dl[m] == 4 ||
			 at(s, t->end[m]) == MASK_CHAR))
			continue;
		/* so may masked text there: it was some group (of 8***@, [EMAIL]) */
		if (t->n == m && at(s, t->end[m - 1]) == t->sep[1] &&
			is_masked(at(s, t->end[m - 1] + 1)))
			continue;
		if (luhn_ok(p, t, m) && num_right_ok(s, t->end[m - 1]))
		{
			*end = t->end[m - 1];
			return true;
		}
	}
	return false;
}

/*
 * + country code and 8..15 digits in all.
 *
 * Phones are written in groups split by spaces, so where one ends is not
 * always clear: "+44 20 7946 025:38::" is a phone followed by an IPv6
 * address, not a phone whose last group goes on as ":38". Phones (E.164
 * and trunk-prefix ones) take the longest run of whole groups that ends
 * at a boundary. The masked text then scans the same way: once the
 * address is [IPV6], "+44 20 7946" is still the same phone.
 */
static bool
num_e164(const pii_scanner *s, const num_tok *t, size_t *end)
{
	const unsigned char *p = s->text;
	size_t		digits = 0;
	int			m = 0;
	int			k;

	if (t->paren[0] || p[t->ds[0]] == '0')
		return false;
	for (k = 0; k < t->n; k++)
	{
		bool		trunk = t->paren[k] && t->dl[k] == 1 && p[t->ds[k]] == '0';

		if (k > 0 && t->sep[k] == '/')
			break;
		if (!trunk && digits + t->dl[k] > 15)
			break;
		if (!trunk)
			digits += t->dl[k];
		m = k + 1;
	}
	/* the longest run of whole groups that ends at a boundary */
	for (; m > 0 && digits >= 8; m--)
	{
		if (num_right_ok(s, t->end[m - 1]))
		{
			*end = t->end[m - 1];
			return true;
		}
		if (!(t->paren[m - 1] && t->dl[m - 1] == 1))
			digits -= t->dl[m - 1];
	}
	return false;
}

/* North American: [1 ](ddd) ddd-dddd, ddd-ddd-dddd, ddd.ddd.dddd, ... */
static bool
num_nanp(const pii_scanner *s, const num_tok *t, size_t *end)
{
	const unsigned char *p = s->text;
	int			a = 0;
	int			s1;
	int			s2;

	if (t->n >= 4 && t->dl[0] == 1 && !t->paren[0] && p[t->ds[0]] == '1' &&
		(t->sep[1] == ' ' || t->sep[1] == '-' || t->sep[1] == '.'))
		a = 1;
	if (t->n < a + 3)
		return false;
	if (t->dl[a] != 3 || p[t->ds[a]] < '2' || t->dl[a + 1] != 3 ||
		t->paren[a + 1] || t->dl[a + 2] != 4 || t->paren[a + 2])
		return false;
	s1 = t->sep[a + 1];
	s2 = t->sep[a + 2];
	if (t->paren[a])
	{
		if (s1 != 0 && s1 != ' ' && s1 != '-')
			return false;
		if (s2 != '-' && s2 != ' ')
			return false;
	}
	else
	{
		if (s1 != '-' && s1 != '.' && s1 != ' ')
			return false;
		if (s2 != '-' && s2 != '.' && s2 != ' ')
			return false;
		if ((s1 == '.') != (s2 == '.'))
			return false;
	}
	if (!num_right_ok(s, t->end[a + 2]))
		return false;
	*end = t->end[a + 2];
	return true;
}

/* Trunk prefix 0: 020 7946 0958, 07700 900123, 01 23 45 67 89. */
static bool
num_trunk(const pii_scanner *s, const num_tok *t, size_t *end)
{
	const unsigned char *p = s->text;
	size_t		digits = 0;
	int			sep = 0;
	int			m = 0;
	int			k;

	if (p[t->ds[0]] != '0' || t->dl[0] < 2 || t->dl[0] > 5 ||
		p[t->ds[0] + 1] == '0' || t->n < 2)
		return false;
	for (k = 0; k < t->n; k++)
	{
		if (k > 0)
		{
			int			c = t->sep[k];

			if (t->paren[k])
				break;
			if (!(k == 1 && t->paren[0]))
			{
				if (c != ' ' && c != '-' && c != '/')
					break;
				if (sep == 0)
					sep = c;
				else if (c != sep)
					break;
			}
			else if (c != ' ' && c != 0)
				break;
		}
		if (t->dl[k] < 2 || digits + t->dl[k] > 11)
			break;
		digits += t->dl[k];
		m = k + 1;
	}
	/* the longest run of groups that ends well, as for E.164 */
	for (; m >= 2 && digits >= 10; m--)
	{
		if (num_right_ok(s, t->end[m - 1]))
		{
			*end = t->end[m - 1];
			return true;
		}
		digits -= t->dl[m - 1];
	}
	return false;
}

/*
 * A number starting at i (a digit, or '+' or '(' for phones): an IPv4
 * address, an SSN, a card number or a phone number, in that order.
 */
static bool
det_number(const pii_scanner *s, size_t i, pii_type *type, size_t *end)
{
	num_tok		t;
	uint32_t	types = s->types;

	if (!num_left_ok(s, i))
		return false;
	if ((types & PII_BIT(PII_IPV4)) && is_digit(s->text[i]) &&
		before(s, i, 1) != '.' && ipv4_at(s, i, end))
	{
		*type = PII_IPV4;
		return true;
	}
	/* the tail of a longer space-separated run of digit groups */
	if (before(s, i, 1) == ' ' && is_digit(before(s, i, 2)))
		return false;
	num_parse(s, i, &t);
	if (t.n == 0)
		return false;
	/* the common case: a lone short number */
	if (t.n == 1 && t.dl[0] < (t.plus ? 8 : 13))
		return false;
	if (t.plus)
	{
		if ((types & PII_BIT(PII_PHONE)) && num_e164(s, &t, end))
		{
			*type = PII_PHONE;
			return true;
		}
		return false;
	}
	if ((types & PII_BIT(PII_SSN)) && num_ssn(s, &t, end))
	{
		*type = PII_SSN;
		return true;
	}
	if ((types & PII_BIT(PII_CARD)) && num_card(s, &t, end))
	{
		*type = PII_CARD;
		return true;
	}
	if ((types & PII_BIT(PII_PHONE)) &&
		(num_nanp(s, &t, end) || num_trunk(s, &t, end)))
	{
		*type = PII_PHONE;
		return true;
	}
	return false;
}

/* --- IBAN ------------------------------------------------------------------ */

/* Lengths of the IBAN registry, by country code. */
static const struct
{
	char		cc[3];
	uint8_t		len;
}			iban_lengths[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20},
	{"BE", 16}, {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28},
	{"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
	{"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
	{"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
	{"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
	{"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
	{"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
	{"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
	{"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18},
	{"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
	{"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
	{"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23},
	{"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
	{"VA", 22}, {"VG", 24}, {"XK", 20},
};

#define IBAN_MAX	34

static size_t
iban_length(int a, int b)
{
	size_t		k;

	for (k = 0; k < sizeof(iban_lengths) / sizeof(iban_lengths[0]); k++)
		if (iban_lengths[k].cc[0] == a && iban_lengths[k].cc[1] == b)
			return iban_lengths[k].len;
	return 0;
}

/* ISO 13616 check: the rearranged number modulo 97 is 1. */
static bool
iban_mod97_ok(const unsigned char *v, size_t len)
{
	unsigned	r = 0;
	size_t		k;

	for (k = 0; k < len; k++)
	{
		int			c = v[(k + 4) % len];

		if (c >= '0' && c <= '9')
			r = (r * 10 + (unsigned) (c - '0')) % 97;
		else
			r = (r * 100 + (unsigned) (c - 'A' + 10)) % 97;
	}
	return r == 1;
}

/*
 * An IBAN at i (two upper-case letters and two digits there): returns 1 and
 * sets *end; returns -1 and sets *end when the text has an IBAN's form but
 * fails the check (so the caller skips it: its digit groups are no phone
 * number); 0 otherwise.
 */
static int
det_iban(const pii_scanner *s, size_t i, size_t *end)
{
	const unsigned char *p = s->text;
	unsigned char v[IBAN_MAX];
	size_t		len = iban_length(p[i], p[i + 1]);
	size_t		k;
	size_t		e;

	if (len == 0)
		return 0;
	/* compact */
	if (len <= s->len - i && run_of(s, i, CC_UPPER | CC_DIGIT) == len)
		e = i + len;
	else
	{
		/* in groups of four: byte offset of character k is k + k / 4 */
		e = i + len + (len - 1) / 4;
		if (e > s->len)
			return 0;
		for (k = 0; k < len; k++)
		{
			int			c = p[i + k + k / 4];

			if (!(cc(c) & (CC_UPPER | CC_DIGIT)))
				return 0;
			if (k % 4 == 0 && k > 0 && p[i + k + k / 4 - 1] != ' ')
				return 0;
		}
	}
	if (bad_end(at(s, e)))
		return 0;
	for (k = 0; k < len; k++)
		v[k] = p[i + k + (e - i == len ? 0 : k / 4)];
	*end = e;
	return iban_mod97_ok(v, len) ? 1 : -1;
}

/* --- IPv6 ------------------------------------------------------------------ */

/*
 * An IPv6 address starting at st (a hex digit, or the first ':' of "::").
 * Sets *end after its last group; false when it is not one.
 */
static bool
ipv6_parse(const pii_scanner *s, size_t st, size_t *end)
{
	size_t		j = st;
	int			groups = 0;
	bool		dbl = false;
	bool		digit = false;
	int			c;

	if (at(s, j) == ':')
	{
		dbl = true;
		j += 2;
	}
	for (;;)
	{
		size_t		gs = j;
		size_t		h = 0;

		while (h < 5 && (cc(at(s, j)) & CC_HEX))
		{
			digit = digit || is_digit(s->text[j]);
			j++;
			h++;
		}
		if (h == 0)
			break;
		if (h == 5)
			return false;
		if (at(s, j) == '.')
		{
			size_t		e4;

			if (!ipv4_at(s, gs, &e4))
				return false;
			groups += 2;
			j = e4;
			break;
		}
		if (++groups > 8)
			return false;
		if (at(s, j) != ':')
			break;
		if (at(s, j + 1) == ':')
		{
			if (dbl)
				return false;
			dbl = true;
			j += 2;
			continue;
		}
		if (!(cc(at(s, j + 1)) & CC_HEX))
		{
			/* a ':' after the address, as in "fe80::1: error" */
			if (bad_end(at(s, j + 1)))
				return false;
			break;
		}
		j++;
	}
	if (dbl ? groups > 7 : groups != 8)
		return false;
	if (groups < 2 || !digit)
		return false;
	c = at(s, j);
	if (bad_end(c))
		return false;
	if (c == '.' && (is_digit(at(s, j + 1)) || is_masked(at(s, j + 1))))
		return false;
	*end = j;
	return true;
}

/*
 * An IPv6 address around the ':' at q: it starts with "::" at q, or with
 * the group of at most four hex digits just before q.
 */
static bool
det_ipv6(const pii_scanner *s, size_t q, size_t *start, size_t *end)
{
	size_t		st = q;
	int			c;

	while (st > s->floor && (pii_cc[s->text[st - 1]] & CC_HEX) && q - st < 5)
		st--;
	if (q - st == 5)
		return false;
	if (st == q && at(s, q + 1) != ':')
		return false;
	c = before(s, st, 1);
	if (c >= 0)
	{
		if ((cc(c) & CC_WORD) || c == '.' || c == '-' || c == MASK_CHAR ||
			before(s, st, 2) == MASK_CHAR)
			return false;
		if (c == ':')
		{
			/*
			 * After "key:" an address may start, but not after a group of
			 * another colon-separated run (the seconds of 12:30:45, a MAC).
			 */
			size_t		h = 0;
			int			b;

			while (h < 5 && (cc(before(s, st, 2 + h)) & CC_HEX))
				h++;
			b = before(s, st, 2 + h);
			if (h == 0 && b == ':')
				return false;
			if (h >= 1 && h <= 4 && !(cc(b) & CC_WORD))
				return false;
		}
	}
	if (!ipv6_parse(s, st, end))
		return false;
	*start = st;
	return true;
}

/* --- JWT, Bearer, warden's keys -------------------------------------------- */

/* A JWS (3 segments) or JWE (5 segments) at i ("eyJ" there). */
static bool
det_jwt(const pii_scanner *s, size_t i, size_t *end)
{
	size_t		lens[5];
	int			segs = 1;
	size_t		j;
	int			c = before(s, i, 1);

	if (c == '-' || c == '.')
		return false;
	lens[0] = run_of(s, i, CC_B64);
	if (lens[0] < 10)
		return false;
	j = i + lens[0];
	while (segs < 5 && at(s, j) == '.')
	{
		lens[segs] = run_of(s, j + 1, CC_B64);
		j += 1 + lens[segs];
		segs++;
	}
	if (segs == 4 && lens[3] == 0)
	{
		/* "h.p.s." at the end of a sentence, not before masked text */
		if (is_masked(at(s, j)))
			return false;
		segs = 3;
		j--;
	}
	if (segs == 3)
	{
		if (lens[1] < 2)
			return false;
	}
	else if (segs == 5)
	{
		if (lens[2] == 0 || lens[3] == 0 || lens[4] == 0 || at(s, j) == '.')
			return false;
	}
	else
		return false;
	if (bad_end(at(s, j)))
		return false;
	*end = j;
	return true;
}

/* The credential after "Bearer " at i. */
static bool
det_bearer(const pii_scanner *s, size_t i, size_t *start, size_t *end)
{
	size_t		j = i + 6;
	size_t		ts;
	size_t		tl;
	size_t		k;
	int			blanks = 0;
	int			c;
	bool		digit_or_sym = false;
	bool		up = false;
	bool		low = false;

	if (!ci_prefix(s, i, "bearer", 6))
		return false;
	while (blanks < 4 && (at(s, j) == ' ' || at(s, j) == '\t'))
	{
		j++;
		blanks++;
	}
	if (blanks == 0)
		return false;
	ts = j;
	tl = run_of(s, ts, CC_TOK);
	if (tl < 16)
		return false;
	for (k = 0; k < tl && !(digit_or_sym || (up && low)); k++)
	{
		unsigned	k_cc = pii_cc[s->text[ts + k]];

		if (k_cc & CC_UPPER)
			up = true;
		else if (k_cc & CC_LOWER)
			low = true;
		else
			digit_or_sym = true;
	}
	if (!(digit_or_sym || (up && low)))
		return false;
	j = ts + tl;
	for (k = 0; k < 3 && at(s, j) == '='; k++)
		j++;
	c = at(s, j);
	if (!(c < 0 || c <= 0x20 || c == '"' || c == '\'' || c == ',' ||
		  c == ';' || c == ')' || c == ']' || c == '}' || c == '<' ||
		  c == '>' || c == '&' || c == '\\' || c == '|' || c == 0x7f))
		return false;
	*start = ts;
	*end = j;
	return true;
}

/* wdn_<12 [a-z0-9]>_<43 base64url> or wrt_<43 base64url> at i. */
static bool
det_api_key(const pii_scanner *s, size_t i, size_t *end)
{
	const unsigned char *p = s->text;
	size_t		k;
	size_t		e;

	if (before(s, i, 1) == '-')
		return false;
	if (s->len - i >= 60 && memcmp(p + i, "wdn_", 4) == 0)
	{
		for (k = 4; k < 16; k++)
			if (!(pii_cc[p[i + k]] & (CC_LOWER | CC_DIGIT)))
				return false;
		if (p[i + 16] != '_' || run_of(s, i + 17, CC_B64) != 43)
			return false;
		e = i + 60;
	}
	else if (s->len - i >= 47 && memcmp(p + i, "wrt_", 4) == 0)
	{
		if (run_of(s, i + 4, CC_B64) != 43)
			return false;
		e = i + 47;
	}
	else
		return false;
	if (bad_end(at(s, e)))
		return false;
	*end = e;
	return true;
}

/* --- mask tokens ----------------------------------------------------------- */

/*
 * Length of the mask token ([EMAIL] or [EMAIL:0123456789ab]) at i, or 0.
 * The scanner skips these, so masked text scans clean.
 */
static size_t
mask_token_len(const pii_scanner *s, size_t i)
{
	int			t;

	if (!(cc(at(s, i + 1)) & CC_UPPER))
		return 0;
	for (t = 0; t < PII_TYPE_COUNT; t++)
	{
		size_t		ll = strlen(pii_labels[t]);
		size_t		k;

		if (s->len - (i + 1) < ll + 1 ||
			memcmp(s->text + i + 1, pii_labels[t], ll) != 0)
			continue;
		if (s->text[i + 1 + ll] == ']')
			return ll + 2;
		if (s->text[i + 1 + ll] != ':' ||
			s->len - (i + 2 + ll) < PII_HASH_HEX + 1)
			return 0;
		for (k = 0; k < PII_HASH_HEX; k++)
		{
			int			c = s->text[i + 2 + ll + k];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return 0;
		}
		return s->text[i + 2 + ll + PII_HASH_HEX] == ']' ?
			ll + 3 + PII_HASH_HEX : 0;
	}
	return 0;
}

/* --- secrets --------------------------------------------------------------- */

/* Key name endings that make a key/value pair a secret (lower case). */
#define SUFFIX(s)	{s, sizeof(s) - 1}
static const struct
{
	const char *name;
	size_t		len;
}			secret_suffixes[] = {
	SUFFIX("password"), SUFFIX("passwd"), SUFFIX("pwd"), SUFFIX("passphrase"),
	SUFFIX("secret"), SUFFIX("token"), SUFFIX("apikey"), SUFFIX("api_key"),
	SUFFIX("api-key"), SUFFIX("private_key"), SUFFIX("privatekey"),
	SUFFIX("private-key"), SUFFIX("secret_key"), SUFFIX("secretkey"),
	SUFFIX("access_key"), SUFFIX("accesskey"), SUFFIX("credential"),
	SUFFIX("credentials"), SUFFIX("sessionid"), SUFFIX("session_id")
};
#undef SUFFIX

#define SECRET_KEY_MAX	64

/*
 * Whether the key k[0..kl) names a secret: it ends with one of the suffixes
 * at a word boundary (the whole key, after _ - or ., camelCase, or an
 * all-caps name such as PGPASSWORD). *pwd tells that the suffix was "pwd",
 * a name shells use for the working directory.
 */
static bool
secret_key_ok(const unsigned char *k, size_t kl, bool *pwd)
{
	int			last = lower(k[kl - 1]);
	size_t		si;

	*pwd = false;
	if (last != 'd' && last != 'e' && last != 't' && last != 'n' &&
		last != 'y' && last != 'l' && last != 's')
		return false;
	for (si = 0; si < sizeof(secret_suffixes) / sizeof(secret_suffixes[0]); si++)
	{
		const char *suf = secret_suffixes[si].name;
		size_t		sl = secret_suffixes[si].len;
		size_t		j;
		int			b;
		bool		match = true;

		if (kl < sl || suf[sl - 1] != last)
			continue;
		for (j = 0; j < sl && match; j++)
			match = lower(k[kl - sl + j]) == suf[j];
		if (!match)
			continue;
		*pwd = si == 2;
		if (kl == sl)
			return true;
		b = k[kl - sl - 1];
		if (b == '_' || b == '-' || b == '.')
			return true;
		if ((pii_cc[k[kl - sl]] & CC_UPPER) && (pii_cc[b] & (CC_LOWER | CC_DIGIT)))
			return true;
		for (j = 0; j < kl; j++)
			if (pii_cc[k[j]] & CC_LOWER)
				break;
		if (j == kl)
			return true;
	}
	return false;
}

/*
 * The key before the separator at sep: blanks, then an optional closing
 * quote (possibly \-escaped), then the identifier. Sets *ks, *ke and
 * *quoted.
 */
static bool
secret_key_before(const pii_scanner *s, size_t sep, size_t *ks, size_t *ke,
				  bool *quoted)
{
	size_t		j = sep;
	int			blanks = 0;
	int			c;

	while (blanks < 8 && (cc(before(s, j, 1)) & CC_BLANK))
	{
		j--;
		blanks++;
	}
	c = before(s, j, 1);
	*quoted = c == '"' || c == '\'';
	if (*quoted)
	{
		j--;
		if (before(s, j, 1) == '\\')
			j--;
	}
	*ke = j;
	while (j > s->floor && (pii_cc[s->text[j - 1]] & CC_KEY))
	{
		j--;
		if (*ke - j > SECRET_KEY_MAX)
			return false;
	}
	*ks = j;
	/* user@host.pwd=... is a host name, not a key */
	return j < *ke && before(s, j, 1) != '@';
}

/*
 * Whether an unquoted key followed by ':' is in a key position: at the
 * start of a line or after one of {,;([&?|"' (so "invalid token: expired"
 * is prose, not a pair).
 */
static bool
secret_key_leads(const pii_scanner *s, size_t ks)
{
	size_t		j = ks;
	int			blanks = 0;
	int			c;

	while (blanks < 16 && (cc(before(s, j, 1)) & CC_BLANK))
	{
		j--;
		blanks++;
	}
	c = before(s, j, 1);
	return c < 0 || c == '\n' || c == '\r' || c == '{' || c == ',' ||
		c == ';' || c == '(' || c == '[' || c == '&' || c == '?' ||
		c == '|' || c == '"' || c == '\'';
}

/* Quote kinds of quoted values, indexes of the memo. */
#define Q_DOUBLE	0			/* "value" */
#define Q_SINGLE	1			/* 'value' */
#define Q_ESCAPED	2			/* \"value\" inside a JSON string */

/*
 * The end of a quoted value starting at start: the closing quote of the
 * kind, on the same line. The memo holds a range known to have no closing
 * quote of the kind, so each byte is searched at most once per kind and a
 * quote that is never closed costs one pass, not one per trigger. (There
 * is no length cap: masking shortens text, and a cap would let a value
 * that was too long become a secret once masked.)
 */
static bool
secret_close(pii_scanner *s, int kind, size_t start, size_t *end)
{
	const unsigned char *p = s->text;
	size_t		limit = s->len;
	size_t		j = start;
	bool		found = false;

	if (s->memo_from[kind] <= start && start < s->memo_to[kind])
		j = s->memo_to[kind];
	else
		s->memo_from[kind] = start;
	for (; j < limit; j++)
	{
		int			c = p[j];

		if (c == '\n' || c == '\r')
			break;
		if (kind == Q_SINGLE ? c == '\'' :
			c == '"' && (kind == Q_DOUBLE) == (p[j - 1] != '\\'))
		{
			found = true;
			break;
		}
	}
	if (j > s->memo_to[kind])
		s->memo_to[kind] = j;
	if (!found)
		return false;
	*end = kind == Q_ESCAPED ? j - 1 : j;
	return true;
}

/* Values that are not secrets: [PLACEHOLDER], mask tokens, "****". */
static bool
secret_placeholder(const pii_scanner *s, size_t vs, size_t ve)
{
	const unsigned char *p = s->text;
	size_t		k;

	if (p[vs] == '[' && p[ve - 1] == ']')
	{
		for (k = vs + 1; k + 1 < ve; k++)
			if (!(pii_cc[p[k]] & (CC_UPPER | CC_DIGIT | CC_LOWER)) &&
				p[k] != '_' && p[k] != ':')
				break;
		if (k + 1 >= ve)
			return true;
	}
	for (k = vs; k < ve; k++)
		if (p[k] != '*')
			return false;
	return true;
}

/*
 * The value after a separator ending at v: quoted (without its quotes) or
 * unquoted. pwd: the key was "pwd", whose path values are no secrets.
 */
static bool
secret_value(pii_scanner *s, size_t v, bool pwd, size_t *vs, size_t *ve)
{
	const unsigned char *p = s->text;
	int			blanks = 0;
	int			c;
	int			kind = -1;
	size_t		qlen = 1;
	size_t		e;

	while (blanks < 8 && (cc(at(s, v)) & CC_BLANK))
	{
		v++;
		blanks++;
	}
	c = at(s, v);
	if (c == '"')
		kind = Q_DOUBLE;
	else if (c == '\'')
		kind = Q_SINGLE;
	else if (c == '\\' && at(s, v + 1) == '"')
	{
		kind = Q_ESCAPED;
		qlen = 2;
	}
	if (kind >= 0)
	{
		if (!secret_close(s, kind, v + qlen, &e) || e <= v + qlen ||
			secret_placeholder(s, v + qlen, e))
			return false;
		*vs = v + qlen;
		*ve = e;
		return true;
	}
	if (c < 0 || is_vend(c) || c == '[' || c == '{' || c == '(' ||
		(pwd && (c == '/' || c == '~')))
		return false;
	e = v;
	while (e < s->len && !is_vend(p[e]))
		e++;
	if ((e - v == 4 && (ci_prefix(s, v, "null", 4) || ci_prefix(s, v, "true", 4) ||
						ci_prefix(s, v, "none", 4))) ||
		(e - v == 5 && ci_prefix(s, v, "false", 5)) ||
		(e - v == 3 && ci_prefix(s, v, "nil", 3)) ||
		secret_placeholder(s, v, e))
		return false;
	*vs = v;
	*ve = e;
	return true;
}

/* A secret value after the separator ('=' or ':') at q. */
static bool
det_secret(pii_scanner *s, size_t q, size_t *vs, size_t *ve)
{
	size_t		ks;
	size_t		ke;
	size_t		v = q + 1;
	bool		quoted;
	bool		pwd;

	if (s->text[q] == '=' && at(s, q + 1) == '>')
		v++;
	if (!secret_key_before(s, q, &ks, &ke, &quoted) ||
		!secret_key_ok(s->text + ks, ke - ks, &pwd))
		return false;
	if (s->text[q] == ':' && !quoted && !secret_key_leads(s, ks))
		return false;
	return secret_value(s, v, pwd, vs, ve);
}

/*
 * The password of URL credentials, scheme://user:password@host, at the ':'
 * q (the user may be empty). Without this the password and host would
 * read as an email address.
 */
static bool
det_url_password(const pii_scanner *s, size_t q, size_t *vs, size_t *ve)
{
	const unsigned char *p = s->text;
	size_t		j = q;
	size_t		e = q + 1;
	size_t		limit = s->len - q > 256 ? q + 256 : s->len;

	while (j > s->floor && (pii_cc[p[j - 1]] & CC_KEY) && q - j <= 64)
		j--;
	if (before(s, j, 1) != '/' || before(s, j, 2) != '/')
		return false;
	while (e < limit && p[e] > 0x20 && p[e] != '@' && p[e] != '/' &&
		   p[e] != '?' && p[e] != '#' && p[e] != '"' && p[e] != '\'' &&
		   p[e] != '[' && p[e] != ']')
		e++;
	if (e >= limit || p[e] != '@' || e == q + 1 ||
		secret_placeholder(s, q + 1, e))
		return false;
	*vs = q + 1;
	*ve = e;
	return true;
}

/* SQL's PASSWORD 'value' (CREATE ROLE, ALTER USER), at the quote q. */
static bool
det_sql_password(pii_scanner *s, size_t q, size_t *vs, size_t *ve)
{
	size_t		j = q;
	int			blanks = 0;

	while (blanks < 8 && (cc(before(s, j, 1)) & CC_BLANK))
	{
		j--;
		blanks++;
	}
	if (blanks == 0 || j < s->floor + 8)
		return false;
	j -= 8;
	if (!ci_prefix(s, j, "password", 8) || (cc(before(s, j, 1)) & CC_KEY))
		return false;
	if (!secret_close(s, Q_SINGLE, q + 1, ve) || *ve == q + 1 ||
		secret_placeholder(s, q + 1, *ve))
		return false;
	*vs = q + 1;
	return true;
}

/* --- email ----------------------------------------------------------------- */

/* An email address around the '@' at a. */
static bool
det_email(const pii_scanner *s, size_t a, size_t *start, size_t *end)
{
	const unsigned char *p = s->text;
	size_t		ls = a;
	size_t		j = a + 1;
	size_t		lab = j;
	size_t		k;
	int			labels = 0;
	int			c;

	while (ls > s->floor && is_local(p[ls - 1]))
	{
		ls--;
		if (a - ls > 64)
			return false;
	}
	while (ls < a && p[ls] == '.')
		ls++;
	if (ls == a || p[a - 1] == '.')
		return false;
	for (;;)
	{
		size_t		ll;

		lab = j;
		while (j < s->len && (pii_cc[p[j]] & CC_DOM) && j - lab < 64)
			j++;
		ll = j - lab;
		if (ll == 0 || ll > 63 || p[lab] == '-' || p[j - 1] == '-' ||
			j - (a + 1) > 253)
			return false;
		labels++;
		if (at(s, j) == '.' && (cc(at(s, j + 1)) & CC_DOM))
		{
			j++;
			continue;
		}
		break;
	}
	if (labels < 2 || j - lab < 2)
		return false;
	for (k = lab; k < j; k++)
		if (!(pii_cc[p[k]] & (CC_UPPER | CC_LOWER)))
			return false;
	c = at(s, j);
	if (bad_end(c) || c == '-' || (c == '.' && is_masked(at(s, j + 1))))
		return false;
	*start = ls;
	*end = j;
	return true;
}

/* --- the scan -------------------------------------------------------------- */

void
pii_scanner_init(pii_scanner *s, const char *text, size_t len,
				 uint32_t types_mask)
{
	memset(s, 0, sizeof(*s));
	s->text = (const unsigned char *) text;
	s->len = text ? len : 0;
	s->types = types_mask & PII_ALL;
}

bool
pii_scanner_next(pii_scanner *s, pii_finding *out)
{
	const unsigned char *p = s->text;
	size_t		n = s->len;
	size_t		pos = s->pos;
	uint32_t	types = s->types;

	if (types == 0)
	{
		s->pos = n;
		return false;
	}
	while (pos < n)
	{
		unsigned	h = pii_hot[p[pos]];
		unsigned	hp = pos > s->floor ? pii_hot[p[pos - 1]] : 0;
		size_t		fs = pos;
		size_t		fe = 0;
		pii_type	ft = PII_EMAIL;
		int			c;

		/*
		 * The skip loop: on to the next punctuation trigger or word-start
		 * trigger (one whose previous byte is not a word byte).
		 */
		if (!((h & H_PUNCT) | (h & H_WSTART & ~(hp << 1))))
		{
			for (pos++; pos < n; pos++)
			{
				hp = h;
				h = pii_hot[p[pos]];
				if ((h & H_PUNCT) | (h & H_WSTART & ~(hp << 1)))
					break;
			}
			if (pos >= n)
				break;
			fs = pos;
		}
		c = p[pos];

		if (h & H_PUNCT)
		{
			switch (c)
			{
				case '@':
					if ((types & PII_BIT(PII_EMAIL)) &&
						det_email(s, pos, &fs, &fe))
						goto found;
					if (before(s, pos, 1) == MASK_CHAR)
					{
						/* j***@example.com: a masked email, skip its domain */
						pos++;
						while (pos < n && (pii_cc[p[pos]] & CC_DOM ||
										   (p[pos] == '.' && pos + 1 < n &&
											(pii_cc[p[pos + 1]] & CC_DOM))))
							pos++;
						continue;
					}
					break;
				case '=':
					if (at(s, pos + 1) == '=')
					{
						pos += 2;
						continue;
					}
					ft = PII_SECRET;
					if ((types & PII_BIT(PII_SECRET)) &&
						det_secret(s, pos, &fs, &fe))
						goto found;
					break;
				case ':':
					ft = PII_SECRET;
					if ((types & PII_BIT(PII_SECRET)) &&
						(det_url_password(s, pos, &fs, &fe) ||
						 det_secret(s, pos, &fs, &fe)))
						goto found;
					ft = PII_IPV6;
					if ((types & PII_BIT(PII_IPV6)) &&
						det_ipv6(s, pos, &fs, &fe))
						goto found;
					break;
				case '\'':
					ft = PII_SECRET;
					if ((types & PII_BIT(PII_SECRET)) &&
						det_sql_password(s, pos, &fs, &fe))
						goto found;
					break;
				case '+':
				case '(':
					if ((types & PII_BIT(PII_PHONE)) &&
						(is_digit(at(s, pos + 1)) ||
						 (c == '+' && at(s, pos + 1) == '(')) &&
						det_number(s, pos, &ft, &fe))
						goto found;
					break;
				case '[':
					{
						size_t		tl = mask_token_len(s, pos);

						if (tl > 0)
						{
							pos += tl;
							continue;
						}
					}
					break;
			}
			pos++;
			continue;
		}

		/* a word-start trigger */
		if (c >= '0' && c <= '9')
		{
			if ((types & (PII_BIT(PII_IPV4) | PII_BIT(PII_SSN) |
						  PII_BIT(PII_CARD) | PII_BIT(PII_PHONE))) &&
				det_number(s, pos, &ft, &fe))
				goto found;
		}
		else
		{
			if (c == 'e')
			{
				ft = PII_JWT;
				if ((types & PII_BIT(PII_JWT)) && at(s, pos + 1) == 'y' &&
					at(s, pos + 2) == 'J' && det_jwt(s, pos, &fe))
					goto found;
			}
			else if (c == 'w')
			{
				ft = PII_API_KEY;
				if ((types & PII_BIT(PII_API_KEY)) && det_api_key(s, pos, &fe))
					goto found;
			}
			if (c == 'b' || c == 'B')
			{
				ft = PII_BEARER;
				if ((types & PII_BIT(PII_BEARER)) &&
					det_bearer(s, pos, &fs, &fe))
					goto found;
			}
			if (c >= 'A' && c <= 'Z')
			{
				ft = PII_IBAN;
				if ((types & PII_BIT(PII_IBAN)) &&
					(cc(at(s, pos + 1)) & CC_UPPER) &&
					is_digit(at(s, pos + 2)) && is_digit(at(s, pos + 3)))
				{
					int			r = det_iban(s, pos, &fe);

					if (r > 0)
						goto found;
					if (r < 0)
					{
						pos = fe;
						continue;
					}
				}
			}
		}
		pos++;
		continue;

found:
		out->type = ft;
		out->offset = fs;
		out->length = fe - fs;
		s->pos = s->floor = fe;
		return true;
	}
	s->pos = n;
	return false;
}

pii_status
pii_scan(const char *text, size_t len, uint32_t types_mask, pii_finding *out,
		 size_t max, size_t *count)
{
	pii_scanner s;
	pii_finding f;
	size_t		n = 0;

	if (count == NULL || (out == NULL && max > 0))
		return PII_ERR_ARG;
	pii_scanner_init(&s, text, len, types_mask);
	while (pii_scanner_next(&s, &f))
	{
		if (n < max)
			out[n] = f;
		n++;
	}
	*count = n;
	return n > max ? PII_ERR_SPACE : PII_OK;
}

/* --- names ----------------------------------------------------------------- */

const char *
pii_type_name(pii_type type)
{
	if ((int) type < 0 || (int) type >= PII_TYPE_COUNT)
		return NULL;
	return pii_names[type];
}

/* Whether name[0..len) is word in any case. */
static bool
ci_equal(const char *name, size_t len, const char *word)
{
	size_t		k;

	if (strlen(word) != len)
		return false;
	for (k = 0; k < len; k++)
		if (lower((unsigned char) name[k]) != word[k])
			return false;
	return true;
}

bool
pii_type_parse(const char *name, size_t len, pii_type *out)
{
	int			t;

	if (name == NULL)
		return false;
	for (t = 0; t < PII_TYPE_COUNT; t++)
		if (ci_equal(name, len, pii_names[t]))
		{
			*out = (pii_type) t;
			return true;
		}
	return false;
}

const char *
pii_style_name(pii_style style)
{
	if ((int) style < 0 || (int) style >= PII_STYLE_COUNT)
		return NULL;
	return pii_style_names[style];
}

bool
pii_style_parse(const char *name, size_t len, pii_style *out)
{
	int			k;

	if (name == NULL)
		return false;
	for (k = 0; k < PII_STYLE_COUNT; k++)
		if (ci_equal(name, len, pii_style_names[k]))
		{
			*out = (pii_style) k;
			return true;
		}
	return false;
}

void
pii_mask_config_init(pii_mask_config *cfg, pii_style style)
{
	int			t;

	memset(cfg, 0, sizeof(*cfg));
	for (t = 0; t < PII_TYPE_COUNT; t++)
		cfg->style[t] = style;
}

const char *
pii_strerror(pii_status status)
{
	switch (status)
	{
		case PII_OK:
			return "success";
		case PII_ERR_SPACE:
			return "output buffer too small";
		case PII_ERR_ARG:
			return "invalid argument";
		case PII_ERR_KEY:
			return "hash masking needs a key of at least 16 bytes";
		case PII_ERR_CRYPTO:
			return "cryptographic library failure";
	}
	return "unknown pii error";
}

/* --- masking --------------------------------------------------------------- */

size_t
pii_mask_len_max(size_t len)
{
	if (len > (SIZE_MAX - 1) / 11)
		return SIZE_MAX;
	return len + (len * 9 + 1) / 2;
}

/*
 * Output that counts what it could not store, so the caller learns the
 * size it needs.
 */
typedef struct mask_out
{
	char	   *buf;
	size_t		size;
	size_t		pos;
	bool		over;
} mask_out;

static void
out_put(mask_out *o, const void *src, size_t n)
{
	if (n == 0)
		return;
	if (!o->over && n <= o->size - o->pos)
		memcpy(o->buf + o->pos, src, n);
	else
		o->over = true;
	o->pos = n > SIZE_MAX - o->pos ? SIZE_MAX : o->pos + n;
}

static void
out_byte(mask_out *o, char c)
{
	out_put(o, &c, 1);
}

static void
out_str(mask_out *o, const char *str)
{
	out_put(o, str, strlen(str));
}

/* The HMAC of one pii_mask call, set up on its first hashed finding. */
typedef struct mask_hmac
{
	const pii_mask_config *cfg;
	EVP_MAC    *mac;
	EVP_MAC_CTX *ctx;
} mask_hmac;

static pii_status
hmac_hex(mask_hmac *hm, const unsigned char *v, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t		mdlen = 0;
	int			ok;
	int			k;

	ERR_set_mark();
	if (hm->ctx == NULL)
	{
		char		digest[] = "SHA256";
		OSSL_PARAM	params[2];

		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
													 digest, 0);
		params[1] = OSSL_PARAM_construct_end();
		hm->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		hm->ctx = hm->mac ? EVP_MAC_CTX_new(hm->mac) : NULL;
		ok = hm->ctx != NULL &&
			EVP_MAC_init(hm->ctx, hm->cfg->hmac_key, hm->cfg->hmac_key_len,
						 params);
	}
	else
		ok = EVP_MAC_init(hm->ctx, NULL, 0, NULL);	/* same key again */
	ok = ok && EVP_MAC_update(hm->ctx, v, n) &&
		EVP_MAC_final(hm->ctx, md, &mdlen, sizeof(md)) && mdlen == 32;
	if (!ok)
	{
		ERR_pop_to_mark();
		return PII_ERR_CRYPTO;
	}
	ERR_pop_to_mark();
	for (k = 0; k < PII_HASH_HEX / 2; k++)
	{
		hex[2 * k] = digits[md[k] >> 4];
		hex[2 * k + 1] = digits[md[k] & 15];
	}
	OPENSSL_cleanse(md, sizeof(md));
	return PII_OK;
}

/*
 * The normalised value hashed for a finding (see pii.h), in buf; returns
 * its length, or v itself (*res = v) when the value is hashed as found.
 */
static size_t
hash_value(pii_type type, const unsigned char *v, size_t n,
		   unsigned char *buf, size_t bufsize, const unsigned char **res)
{
	size_t		k;
	size_t		o = 0;

	*res = buf;
	if (n > bufsize)
		type = PII_SECRET;		/* cannot happen: these types are short */
	switch (type)
	{
		case PII_EMAIL:
		case PII_IPV6:
			for (k = 0; k < n; k++)
				buf[o++] = (unsigned char) lower(v[k]);
			return o;
		case PII_CARD:
		case PII_SSN:
		case PII_PHONE:
			for (k = 0; k < n; k++)
				if (is_digit(v[k]) || (v[k] == '+' && type == PII_PHONE))
					buf[o++] = v[k];
			return o;
		case PII_IBAN:
			for (k = 0; k < n; k++)
				if (v[k] != ' ')
					buf[o++] = v[k];
			return o;
		default:
			*res = v;
			return n;
	}
}

/* The length of the UTF-8 character starting v[0..n), at least 1. */
static size_t
utf8_char_len(const unsigned char *v, size_t n)
{
	size_t		want = v[0] < 0xc0 ? 1 : v[0] < 0xe0 ? 2 : v[0] < 0xf0 ? 3 : 4;
	size_t		k;

	if (want > n)
		return 1;
	for (k = 1; k < want; k++)
		if ((v[k] & 0xc0) != 0x80)
			return 1;
	return want;
}

/* The partial style of a finding v[0..n) of type. */
static void
mask_partial(mask_out *o, pii_type type, const unsigned char *v, size_t n)
{
	size_t		k;
	size_t		keep;
	size_t		seen;

	switch (type)
	{
		case PII_EMAIL:
			{
				const unsigned char *atp = memchr(v, '@', n);
				size_t		local = (size_t) (atp - v);

				keep = utf8_char_len(v, local);
				out_put(o, v, keep);
				out_str(o, "***");
				out_put(o, atp, n - local);
				return;
			}
		case PII_PHONE:
		case PII_CARD:
		case PII_SSN:
			keep = type == PII_PHONE ? 2 : 4;
			seen = 0;
			{
				size_t		total = 0;

				for (k = 0; k < n; k++)
					total += is_digit(v[k]) ? 1 : 0;
				for (k = 0; k < n; k++)
				{
					if (is_digit(v[k]))
					{
						out_byte(o, seen + keep < total ? '*' : (char) v[k]);
						seen++;
					}
					else
						out_byte(o, (char) v[k]);
				}
			}
			return;
		case PII_IBAN:
			{
				size_t		total = 0;

				for (k = 0; k < n; k++)
					total += v[k] != ' ' ? 1 : 0;
				seen = 0;
				for (k = 0; k < n; k++)
				{
					if (v[k] == ' ')
						out_byte(o, ' ');
					else
					{
						out_byte(o, seen < 2 || seen + 4 >= total ?
								 (char) v[k] : '*');
						seen++;
					}
				}
			}
			return;
		case PII_IPV4:
			keep = 0;
			while (keep < n && v[keep] != '.')
				keep++;
			out_put(o, v, keep);
			out_str(o, ".*.*.*");
			return;
		case PII_IPV6:
			keep = 0;
			while (keep < n && v[keep] != ':')
				keep++;
			if (keep > 0 && keep + 1 < n && v[keep + 1] != ':')
			{
				size_t		second = keep + 1;

				while (second < n && v[second] != ':' && v[second] != '.')
					second++;
				if (second < n && v[second] == ':')
					keep = second;
			}
			out_put(o, v, keep);
			out_str(o, keep == 0 ? "::*" : ":*");
			return;
		default:
			out_byte(o, '[');
			out_str(o, pii_labels[type]);
			out_byte(o, ']');
			return;
	}
}

pii_status
pii_mask(const char *text, size_t len, const pii_mask_config *cfg, char *out,
		 size_t outsize, size_t *outlen)
{
	pii_scanner s;
	pii_finding f;
	mask_out	o;
	mask_hmac	hm;
	uint32_t	types = 0;
	size_t		last = 0;
	pii_status	st = PII_OK;
	int			t;

	if (outlen != NULL)
		*outlen = 0;
	if (cfg == NULL || outlen == NULL || (out == NULL && outsize > 0) ||
		(text == NULL && len > 0))
		return PII_ERR_ARG;
	if (text == NULL)
		text = "";
	for (t = 0; t < PII_TYPE_COUNT; t++)
	{
		if ((int) cfg->style[t] < 0 || (int) cfg->style[t] >= PII_STYLE_COUNT)
			return PII_ERR_ARG;
		if (cfg->style[t] == PII_STYLE_HASH &&
			(cfg->hmac_key == NULL || cfg->hmac_key_len < PII_HASH_KEY_MIN))
			return PII_ERR_KEY;
		if (cfg->style[t] != PII_STYLE_OFF)
			types |= PII_BIT(t);
	}

	o.buf = out;
	o.size = outsize;
	o.pos = 0;
	o.over = false;
	hm.cfg = cfg;
	hm.mac = NULL;
	hm.ctx = NULL;

	pii_scanner_init(&s, text, len, types);
	while (st == PII_OK && pii_scanner_next(&s, &f))
	{
		const unsigned char *v = s.text + f.offset;

		out_put(&o, text + last, f.offset - last);
		last = f.offset + f.length;
		switch (cfg->style[f.type])
		{
			case PII_STYLE_PARTIAL:
				mask_partial(&o, f.type, v, f.length);
				break;
			case PII_STYLE_HASH:
				{
					unsigned char buf[512];
					const unsigned char *hv;
					size_t		hn = hash_value(f.type, v, f.length, buf,
												sizeof(buf), &hv);
					char		hex[PII_HASH_HEX];

					st = hmac_hex(&hm, hv, hn, hex);
					OPENSSL_cleanse(buf, sizeof(buf));
					out_byte(&o, '[');
					out_str(&o, pii_labels[f.type]);
					out_byte(&o, ':');
					out_put(&o, hex, sizeof(hex));
					out_byte(&o, ']');
				}
				break;
			default:
				out_byte(&o, '[');
				out_str(&o, pii_labels[f.type]);
				out_byte(&o, ']');
				break;
		}
	}
	EVP_MAC_CTX_free(hm.ctx);
	EVP_MAC_free(hm.mac);
	if (st != PII_OK)
		return st;
	out_put(&o, text + last, len - last);
	if (o.over || o.pos >= outsize)
	{
		*outlen = o.pos;
		return PII_ERR_SPACE;
	}
	out[o.pos] = '\0';
	*outlen = o.pos;
	return PII_OK;
}
