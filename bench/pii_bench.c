/*
 * pii_bench.c
 *		Throughput of core/pii (scan and mask) next to a masker of the same
 *		detectors built on POSIX regular expressions, measured in one run.
 *
 * Build and run from the repository root:
 *
 *   cc -O2 -Icore -o build/pii_bench bench/pii_bench.c core/pii.c -lcrypto
 *   build/pii_bench [MiB] [regex-MiB]
 *
 * It generates MiB (default 64) of log-like text from a fixed seed: web
 * server access lines, logfmt application lines, JSON lines, PostgreSQL
 * lines, syslog lines, about one in four carrying some PII (emails, phones,
 * cards, IBANs, addresses, SSNs, JWTs, bearer tokens, warden keys, secrets)
 * among near misses (timestamps, UUIDs, versions, order numbers, hashes).
 * Then it times, five times each, and prints the median MB/s (1 MB = 10^6
 * bytes) of:
 *   scan       pii_scan over the whole text, every type
 *   mask full  pii_mask, every type in the full style
 *   mask hash  pii_mask, every type in the hash style (HMAC-SHA256)
 *   regex      the regex masker below, line by line
 * and the ratios scan/regex and mask/regex.
 *
 * The regex masker is meant to be a fair implementation of the usual
 * approach: one POSIX extended expression per detector (compiled once, the
 * secret one case-insensitive), run over each line; the candidates are
 * checked the way the scanner checks them (word boundaries, Luhn for
 * cards, mod-97 for IBANs, octet ranges, SSN areas), then the earliest
 * (longest on ties) non-overlapping ones are replaced by [TYPE] tokens.
 * glibc's regexec is slow enough that it runs over the first regex-MiB
 * (default 8) of the same text; MB/s are comparable regardless.
 */
#define _GNU_SOURCE
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pii.h"

#define RUNS 5

/* --- deterministic text ---------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	uint64_t	x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned
rn(unsigned n)
{
	return (unsigned) (rng() % n);
}

static const char *const pick_words[] = {
	"request", "completed", "user", "session", "started", "cache", "miss",
	"connection", "accepted", "checkout", "payment", "order", "created",
	"retrying", "upstream", "timeout", "shipping", "address", "updated",
	"profile", "invoice", "sent", "queue", "worker", "job", "done"
};

#define PICK(a) (a[rn(sizeof(a) / sizeof(a[0]))])

typedef struct textbuf
{
	char	   *p;
	size_t		len;
	size_t		cap;
} textbuf;

static void
tb_add(textbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		b->cap = (b->cap + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
tb_printf(textbuf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
tb_printf(textbuf *b, const char *fmt,...)
{
	char		tmp[2048];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		tb_add(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

static void
luhn_number(char *out, const char *prefix, int len)
{
	int			n = (int) strlen(prefix);
	int			sum = 0;
	int			k;

	memcpy(out, prefix, n);
	for (k = n; k < len - 1; k++)
		out[k] = (char) ('0' + rn(10));
	for (k = len - 2; k >= 0; k--)
	{
		int			d = out[k] - '0';

		if ((len - 2 - k) % 2 == 0)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	out[len - 1] = (char) ('0' + (10 - sum % 10) % 10);
	out[len] = '\0';
}

static void
b64url_random(char *out, int n)
{
	static const char a[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int			k;

	for (k = 0; k < n; k++)
		out[k] = a[rn(64)];
	out[n] = '\0';
}

static void
hex_random(char *out, int n)
{
	int			k;

	for (k = 0; k < n; k++)
		out[k] = "0123456789abcdef"[rn(16)];
	out[n] = '\0';
}

/* One piece of PII (or a near miss) as text. */
static void
pii_piece(char *out, size_t size)
{
	char		a[128];
	char		b[128];

	switch (rn(14))
	{
		case 0:
			snprintf(out, size, "%s.%s%u@example.%s", PICK(pick_words),
					 PICK(pick_words), rn(100), rn(2) ? "com" : "org");
			break;
		case 1:
			snprintf(out, size, "+1 (%u) 555-%04u", 200 + rn(800), rn(10000));
			break;
		case 2:
			luhn_number(a, "4", 16);
			snprintf(out, size, "%.4s %.4s %.4s %.4s", a, a + 4, a + 8, a + 12);
			break;
		case 3:
			snprintf(out, size, "DE89 3704 0044 0532 0130 00");
			break;
		case 4:
			snprintf(out, size, "192.0.2.%u", rn(255));
			break;
		case 5:
			snprintf(out, size, "2001:db8:%x::%x", rn(65536), rn(65536));
			break;
		case 6:
			snprintf(out, size, "%03u-%02u-%04u", 100 + rn(500), 10 + rn(89),
					 1000 + rn(9000));
			break;
		case 7:
			b64url_random(a, 43);
			b64url_random(b, 24);
			snprintf(out, size, "eyJhbGciOiJSUzI1NiJ9.eyJ%s.%s", b, a);
			break;
		case 8:
			b64url_random(a, 40);
			snprintf(out, size, "Authorization: Bearer %s", a);
			break;
		case 9:
			b64url_random(a, 43);
			snprintf(out, size, "wdn_%u%u_%s", 100000 + rn(900000),
					 100000 + rn(900000), a);
			break;
		case 10:
			b64url_random(a, 12);
			snprintf(out, size, "password=%s", a);
			break;
		case 11:
			luhn_number(a, "4", 16);
			a[15] = a[15] == '9' ? '0' : a[15] + 1;	/* Luhn-invalid */
			snprintf(out, size, "ref %s", a);
			break;
		case 12:
			hex_random(a, 64);
			snprintf(out, size, "sha256=%s", a);
			break;
		default:
			snprintf(out, size, "order ORD-2026-%06u v%u.%u.%u", rn(1000000),
					 rn(3), rn(20), rn(10));
			break;
	}
}

static void
gen_line(textbuf *b)
{
	char		piece[512];
	char		uuid[40];
	unsigned	h = rn(24);
	unsigned	m = rn(60);
	unsigned	sec = rn(60);

	piece[0] = '\0';
	if (rn(4) == 0)
		pii_piece(piece, sizeof(piece));
	hex_random(uuid, 32);
	switch (rn(5))
	{
		case 0:
			tb_printf(b, "198.51.100.%u - - [25/Nov/2026:%02u:%02u:%02u +0000] "
					  "\"GET /api/v1/%s/%u?page=%u HTTP/1.1\" %u %u "
					  "\"https://www.example.com/%s\" \"Mozilla/5.0 (X11; "
					  "Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
					  "Chrome/120.0.6099.109 Safari/537.36\" %s\n",
					  rn(255), h, m, sec, PICK(pick_words), rn(100000), rn(9),
					  rn(2) ? 200 : 404, rn(50000), PICK(pick_words), piece);
			break;
		case 1:
			tb_printf(b, "ts=2026-11-25T%02u:%02u:%02u.%03uZ level=info "
					  "msg=\"%s %s\" method=GET path=/api/v1/%s status=200 "
					  "duration_ms=%u.%u request_id=%.8s-%.4s-%.4s-%.4s-%.12s "
					  "%s\n", h, m, sec, rn(1000), PICK(pick_words),
					  PICK(pick_words), PICK(pick_words), rn(900), rn(10),
					  uuid, uuid + 8, uuid + 12, uuid + 16, uuid + 20, piece);
			break;
		case 2:
			tb_printf(b, "{\"time\":\"2026-11-25T%02u:%02u:%02uZ\",\"level\":"
					  "\"INFO\",\"logger\":\"%s\",\"msg\":\"%s %s\",\"amount\":"
					  "%u.%02u,\"currency\":\"EUR\",\"order\":\"ORD-2026-%06u\","
					  "\"note\":\"%s\"}\n", h, m, sec, PICK(pick_words),
					  PICK(pick_words), PICK(pick_words), rn(1000), rn(100),
					  rn(1000000), piece);
			break;
		case 3:
			tb_printf(b, "2026-11-25 %02u:%02u:%02u.%03u UTC [%u] app@orders "
					  "LOG:  duration: %u.%03u ms  statement: SELECT id, "
					  "status FROM orders WHERE id = %u -- %s\n", h, m, sec,
					  rn(1000), 1000 + rn(60000), rn(100), rn(1000),
					  rn(10000000), piece);
			break;
		default:
			tb_printf(b, "Nov 25 %02u:%02u:%02u web%02u sshd[%u]: %s %s for "
					  "deploy from 203.0.113.%u port %u ssh2 %s\n", h, m, sec,
					  rn(20), rn(65536), PICK(pick_words), PICK(pick_words),
					  rn(255), 1024 + rn(60000), piece);
			break;
	}
}

/* --- the regex masker ------------------------------------------------------ */

typedef struct rx
{
	pii_type	type;
	const char *pattern;
	int			flags;
} rx;

static rx	rxs[] = {
	{PII_EMAIL, "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}", 0},
	{PII_PHONE, "\\+[1-9][0-9 .()-]{6,22}[0-9]|\\(?[2-9][0-9]{2}\\)?[ .-]?[0-9]{3}[ .-][0-9]{4}|0[1-9][0-9]{1,4}[ /-][0-9]{2,8}([ -][0-9]{2,4}){0,3}", 0},
	{PII_CARD, "[2-6][0-9]{12,18}|[2-6][0-9]{3}([ -][0-9]{4}){3}([ -][0-9]{3})?|3[47][0-9]{2}[ -][0-9]{6}[ -][0-9]{4,5}", 0},
	{PII_IBAN, "[A-Z]{2}[0-9]{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,4})?", 0},
	{PII_IPV4, "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}", 0},
	{PII_IPV6, "([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,6}(:[0-9A-Fa-f]{1,4}){1,6}|([0-9A-Fa-f]{1,4}:){1,7}:|::[fF]{4}:[0-9.]{7,15}", 0},
	{PII_SSN, "[0-9]{3}-[0-9]{2}-[0-9]{4}", 0},
	{PII_JWT, "eyJ[A-Za-z0-9_-]{7,}\\.[A-Za-z0-9_-]{2,}\\.[A-Za-z0-9_-]*", 0},
	{PII_BEARER, "[Bb]earer +[A-Za-z0-9._~+/-]{16,}=*", 0},
	{PII_API_KEY, "wdn_[a-z0-9]{12}_[A-Za-z0-9_-]{43}|wrt_[A-Za-z0-9_-]{43}", 0},
	{PII_SECRET, "(password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key|secret[_-]?key|access[_-]?key|credentials?|session[_]?id)[\"']?[ ]*(=|:)[ ]*(\"[^\"]*\"|'[^']*'|[^ ,;&\"'}]+)", REG_ICASE},
};

#define NRX (sizeof(rxs) / sizeof(rxs[0]))

static regex_t rx_compiled[NRX];

typedef struct cand
{
	pii_type	type;
	size_t		s;
	size_t		e;
} cand;

static int
is_wordc(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z') || c == '_';
}

static int
rx_luhn(const char *s, size_t n)
{
	int			sum = 0;
	int			dbl = 0;
	size_t		k;
	int			digits = 0;

	for (k = n; k-- > 0;)
	{
		int			d;

		if (s[k] < '0' || s[k] > '9')
			continue;
		d = s[k] - '0';
		if (dbl)
		{
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
		dbl = !dbl;
		digits++;
	}
	return digits >= 13 && digits <= 19 && sum % 10 == 0;
}

static int
rx_mod97(const char *s, size_t n)
{
	char		v[40];
	size_t		len = 0;
	size_t		k;
	unsigned	r = 0;

	for (k = 0; k < n && len < sizeof(v); k++)
		if (s[k] != ' ')
			v[len++] = s[k];
	if (len < 15)
		return 0;
	for (k = 0; k < len; k++)
	{
		char		c = v[(k + 4) % len];

		r = c <= '9' ? (r * 10 + (unsigned) (c - '0')) % 97 :
			(r * 100 + (unsigned) (c - 'A' + 10)) % 97;
	}
	return r == 1;
}

/* The checks a regex cannot express, applied to a candidate. */
static int
rx_valid(const rx *r, const char *line, size_t s, size_t e, size_t *vs)
{
	const char *m = line + s;
	size_t		n = e - s;

	*vs = s;
	if (r->type != PII_SECRET && r->type != PII_EMAIL)
	{
		if ((s > 0 && is_wordc((unsigned char) line[s - 1])) ||
			is_wordc((unsigned char) line[e]))
			return 0;
	}
	switch (r->type)
	{
		case PII_CARD:
			return rx_luhn(m, n);
		case PII_IBAN:
			return rx_mod97(m, n);
		case PII_SSN:
			{
				int			area = atoi(m);

				return area != 0 && area != 666 && area < 900;
			}
		case PII_BEARER:
			{
				const char *sp = memchr(m, ' ', n);

				while (sp && *sp == ' ')
					sp++;
				*vs = sp ? (size_t) (sp - line) : s;
				return 1;
			}
		case PII_SECRET:
			{
				const char *sep = m;

				while (sep < line + e && *sep != '=' && *sep != ':')
					sep++;
				sep++;
				while (*sep == ' ')
					sep++;
				if (*sep == '"' || *sep == '\'')
					sep++;
				*vs = (size_t) (sep - line);
				return 1;
			}
		default:
			return 1;
	}
}

static int
cand_cmp(const void *a, const void *b)
{
	const cand *x = a;
	const cand *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return x->e > y->e ? -1 : x->e < y->e ? 1 : 0;
}

/* Masks one NUL-terminated line into out; returns the output length. */
static size_t
rx_mask_line(const char *line, size_t len, char *out)
{
	cand		c[256];
	int			nc = 0;
	size_t		i;
	size_t		o = 0;
	size_t		last = 0;
	int			k;

	for (i = 0; i < NRX; i++)
	{
		size_t		off = 0;
		regmatch_t	m[1];

		while (off < len && nc < 256 &&
			   regexec(&rx_compiled[i], line + off, 1, m,
					   off > 0 ? REG_NOTBOL : 0) == 0)
		{
			size_t		s = off + (size_t) m[0].rm_so;
			size_t		e = off + (size_t) m[0].rm_eo;
			size_t		vs;

			if (e == s)
				break;
			if (rx_valid(&rxs[i], line, s, e, &vs))
			{
				c[nc].type = rxs[i].type;
				c[nc].s = vs;
				c[nc].e = e;
				if (rxs[i].type == PII_SECRET && c[nc].e > vs &&
					(line[e - 1] == '"' || line[e - 1] == '\''))
					c[nc].e--;
				if (c[nc].e > c[nc].s)
					nc++;
			}
			off = e;
		}
	}
	qsort(c, nc, sizeof(c[0]), cand_cmp);
	for (k = 0; k < nc; k++)
	{
		const char *label;

		if (c[k].s < last)
			continue;
		memcpy(out + o, line + last, c[k].s - last);
		o += c[k].s - last;
		label = pii_type_name(c[k].type);
		out[o++] = '[';
		while (*label)
			out[o++] = (char) (*label >= 'a' && *label <= 'z' ? *label - 32 : *label),
				label++;
		out[o++] = ']';
		last = c[k].e;
	}
	memcpy(out + o, line + last, len - last);
	o += len - last;
	return o;
}

static size_t
rx_mask(const char *text, size_t len, char *out)
{
	char		line[8192];
	char		masked[16384];
	size_t		pos = 0;
	size_t		o = 0;

	while (pos < len)
	{
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t		ll = nl ? (size_t) (nl - text - pos) : len - pos;
		size_t		ml;

		if (ll >= sizeof(line))
			ll = sizeof(line) - 1;
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		ml = rx_mask_line(line, ll, masked);
		memcpy(out + o, masked, ml);
		o += ml;
		out[o++] = '\n';
		pos += ll + 1;
	}
	return o;
}

/* --- timing ---------------------------------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
median(double *v)
{
	qsort(v, RUNS, sizeof(double), dbl_cmp);
	return v[RUNS / 2];
}

int
main(int argc, char **argv)
{
	size_t		mib = argc > 1 ? (size_t) atol(argv[1]) : 64;
	size_t		rx_mib = argc > 2 ? (size_t) atol(argv[2]) : 8;
	textbuf		b = {0};
	size_t		rx_len;
	char	   *out;
	size_t		outsize;
	double		t_scan[RUNS];
	double		t_full[RUNS];
	double		t_hash[RUNS];
	double		t_rx[RUNS];
	size_t		findings = 0;
	size_t		outlen = 0;
	size_t		rx_out = 0;
	pii_mask_config full;
	pii_mask_config hash;
	static const unsigned char key[32] = "pii-bench-key-0123456789abcdef!";
	int			r;
	size_t		i;
	double		mb_scan;
	double		mb_full;
	double		mb_hash;
	double		mb_rx;

	if (mib == 0)
		mib = 64;
	while (b.len < mib << 20)
		gen_line(&b);
	rx_len = rx_mib << 20 < b.len ? rx_mib << 20 : b.len;
	while (rx_len < b.len && b.p[rx_len - 1] != '\n')
		rx_len++;
	outsize = b.len * 2 + 1;
	out = malloc(outsize);
	if (!out)
		abort();
	for (i = 0; i < NRX; i++)
		if (regcomp(&rx_compiled[i], rxs[i].pattern, REG_EXTENDED | rxs[i].flags) != 0)
		{
			fprintf(stderr, "regcomp failed for %s\n", pii_type_name(rxs[i].type));
			return 1;
		}
	pii_mask_config_init(&full, PII_STYLE_FULL);
	pii_mask_config_init(&hash, PII_STYLE_HASH);
	hash.hmac_key = key;
	hash.hmac_key_len = sizeof(key);

	for (r = 0; r < RUNS; r++)
	{
		double		t0 = now();
		pii_scanner s;
		pii_finding f;
		size_t		n = 0;

		pii_scanner_init(&s, b.p, b.len, PII_ALL);
		while (pii_scanner_next(&s, &f))
			n++;
		t_scan[r] = now() - t0;
		findings = n;

		t0 = now();
		if (pii_mask(b.p, b.len, &full, out, outsize, &outlen) != PII_OK)
			abort();
		t_full[r] = now() - t0;

		t0 = now();
		if (pii_mask(b.p, b.len, &hash, out, outsize, &outlen) != PII_OK)
			abort();
		t_hash[r] = now() - t0;

		t0 = now();
		rx_out = rx_mask(b.p, rx_len, out);
		t_rx[r] = now() - t0;
	}
	mb_scan = b.len / 1e6 / median(t_scan);
	mb_full = b.len / 1e6 / median(t_full);
	mb_hash = b.len / 1e6 / median(t_hash);
	mb_rx = rx_len / 1e6 / median(t_rx);
	printf("pii_bench: %.1f MiB of log-like text, %zu findings (%.1f per KiB), "
		   "medians of %d runs, one core\n", b.len / 1048576.0, findings,
		   findings / (b.len / 1024.0), RUNS);
	printf("  %-22s %9.1f MB/s\n", "pii_scan", mb_scan);
	printf("  %-22s %9.1f MB/s\n", "pii_mask (full)", mb_full);
	printf("  %-22s %9.1f MB/s\n", "pii_mask (hash)", mb_hash);
	printf("  %-22s %9.1f MB/s  (over %.1f MiB)\n", "regex masker (POSIX)",
		   mb_rx, rx_len / 1048576.0);
	printf("  ratio scan / regex     %9.1fx\n", mb_scan / mb_rx);
	printf("  ratio mask / regex     %9.1fx\n", mb_full / mb_rx);
	(void) rx_out;
	for (i = 0; i < NRX; i++)
		regfree(&rx_compiled[i]);
	free(out);
	free(b.p);
	return 0;
}
