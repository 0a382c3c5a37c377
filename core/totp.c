/*
 * totp.c
 *		RFC 4226 HOTP, RFC 6238 TOTP and otpauth:// URIs (see totp.h).
 *
 * totp_verify computes the code of every step in the window, whether or not
 * an earlier one matched, compares each with CRYPTO_memcmp and folds the
 * results together with masks instead of branches: the time it takes
 * depends only on the window, never on the code. Which steps are "used"
 * (<= last_step) is not secret, but which one matched is, so freshness is
 * folded in with the same masks. Intermediate HMACs and candidate codes
 * are wiped before returning, and errors OpenSSL queues are popped again.
 */
#include "totp.h"

#include "base32.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static const uint32_t totp_pow10[9] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000
};

static int
totp_params_ok(size_t keylen, int digits)
{
	return keylen >= TOTP_KEY_MIN && keylen <= TOTP_KEY_MAX &&
		(digits == 6 || digits == 8);
}

/* HOTP without parameter checks: the callers have done them. */
static totp_status
totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, int digits,
		  uint32_t *code)
{
	unsigned char msg[8];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	unsigned int off;
	uint32_t	bin;
	int			i;

	for (i = 7; i >= 0; i--)
	{
		msg[i] = (unsigned char) (counter & 0xff);
		counter >>= 8;
	}
	ERR_set_mark();
	if (HMAC(EVP_sha1(), key, (int) keylen, msg, sizeof(msg), mac,
			 &maclen) == NULL || maclen != 20)
	{
		ERR_pop_to_mark();
		OPENSSL_cleanse(mac, sizeof(mac));
		return TOTP_ERR_CRYPTO;
	}
	ERR_pop_to_mark();

	/* RFC 4226 section 5.3, dynamic truncation */
	off = mac[19] & 0x0f;
	bin = (uint32_t) (mac[off] & 0x7f) << 24 |
		(uint32_t) mac[off + 1] << 16 |
		(uint32_t) mac[off + 2] << 8 |
		(uint32_t) mac[off + 3];
	*code = bin % totp_pow10[digits];
	OPENSSL_cleanse(mac, sizeof(mac));
	return TOTP_OK;
}

totp_status
totp_code(const uint8_t *key, size_t keylen, uint64_t counter, int digits,
		  uint32_t *code)
{
	*code = 0;
	if (key == NULL || !totp_params_ok(keylen, digits))
		return TOTP_ERR_PARAM;
	return totp_hotp(key, keylen, counter, digits, code);
}

/* 1 when x is zero, else 0, without a data-dependent branch. */
static uint64_t
totp_ct_is_zero(uint64_t x)
{
	return 1 ^ ((x | (0 - x)) >> 63);
}

totp_status
totp_verify(const uint8_t *key, size_t keylen, const char *code, int64_t now,
			int period, int digits, int window, int64_t last_step,
			int64_t *matched_step)
{
	int64_t		step;
	int64_t		s;
	uint64_t	found_fresh = 0;	/* all ones once a fresh step matched */
	uint64_t	found_used = 0; /* all ones once a used step matched */
	uint64_t	matched = 0;
	char		cand[8];
	uint32_t	value = 0;
	totp_status st = TOTP_OK;
	int			i;

	*matched_step = -1;
	if (key == NULL || !totp_params_ok(keylen, digits) ||
		period <= 0 || period > 3600 || window < 0 ||
		window > TOTP_WINDOW_MAX || now < 0)
		return TOTP_ERR_PARAM;

	/* The format is public: checking it may exit early. */
	if (code == NULL)
		return TOTP_ERR_FORMAT;
	for (i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return TOTP_ERR_FORMAT;
	if (code[digits] != '\0')
		return TOTP_ERR_FORMAT;

	step = now / period;
	if (step > INT64_MAX - window)
		return TOTP_ERR_PARAM;	/* the window would run past the clock */
	for (s = step - window; s <= step + window; s++)
	{
		uint64_t	eq;
		uint64_t	fresh;
		uint64_t	take;
		uint32_t	v;

		if (s < 0)
			continue;			/* before 1970: no such step */
		st = totp_hotp(key, keylen, (uint64_t) s, digits, &value);
		if (st != TOTP_OK)
			break;
		v = value;
		for (i = digits - 1; i >= 0; i--)
		{
			cand[i] = (char) ('0' + v % 10);
			v /= 10;
		}

		eq = 0 - totp_ct_is_zero((uint64_t) CRYPTO_memcmp(cand, code,
															 (size_t) digits));
		fresh = 0 - (uint64_t) (s > last_step);
		take = eq & fresh & ~found_fresh;
		matched = (matched & ~take) | ((uint64_t) s & take);
		found_fresh |= eq & fresh;
		found_used |= eq & ~fresh;
	}
	OPENSSL_cleanse(cand, sizeof(cand));
	OPENSSL_cleanse(&value, sizeof(value));

	if (st != TOTP_OK)
		return st;
	if (found_fresh)
	{
		*matched_step = (int64_t) matched;
		return TOTP_OK;
	}
	return found_used ? TOTP_ERR_REPLAY : TOTP_ERR_MISMATCH;
}

/*
 * Appends str percent-encoded per RFC 3986: unreserved characters as they
 * are, every other byte (UTF-8 included) as %XX. Returns 0 when out of room.
 */
static int
totp_put_pct(char *out, size_t outsize, size_t *o, const char *str)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *) str; *p; p++)
	{
		int			plain = (*p >= 'A' && *p <= 'Z') ||
			(*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~';

		if (outsize - *o < (plain ? 1u : 3u))
			return 0;
		if (plain)
			out[(*o)++] = (char) *p;
		else
		{
			out[(*o)++] = '%';
			out[(*o)++] = hex[*p >> 4];
			out[(*o)++] = hex[*p & 15];
		}
	}
	return 1;
}

static int
totp_put(char *out, size_t outsize, size_t *o, const char *str)
{
	size_t		n = strlen(str);

	if (outsize - *o < n)
		return 0;
	memcpy(out + *o, str, n);
	*o += n;
	return 1;
}

totp_status
totp_uri(const char *issuer, const char *account, const uint8_t *key,
		 size_t keylen, char *out, size_t outsize, size_t *outlen)
{
	char		secret[(TOTP_KEY_MAX + 4) / 5 * 8 + 1];
	size_t		slen;
	size_t		o = 0;
	int			ok;

	*outlen = 0;
	if (issuer == NULL || account == NULL || *issuer == '\0' ||
		*account == '\0' || key == NULL || keylen < TOTP_KEY_MIN ||
		keylen > TOTP_KEY_MAX)
		return TOTP_ERR_PARAM;
	if (outsize == 0)
		return TOTP_ERR_SPACE;
	if (base32_encode(key, keylen, secret, sizeof(secret), &slen) !=
		BASE32_OK)
		return TOTP_ERR_PARAM;	/* cannot happen: secret fits TOTP_KEY_MAX */

	/* Leave room for the terminator throughout: outsize - 1 is the limit. */
	ok = totp_put(out, outsize - 1, &o, "otpauth://totp/") &&
		totp_put_pct(out, outsize - 1, &o, issuer) &&
		totp_put(out, outsize - 1, &o, ":") &&
		totp_put_pct(out, outsize - 1, &o, account) &&
		totp_put(out, outsize - 1, &o, "?secret=") &&
		totp_put(out, outsize - 1, &o, secret) &&
		totp_put(out, outsize - 1, &o, "&issuer=") &&
		totp_put_pct(out, outsize - 1, &o, issuer) &&
		totp_put(out, outsize - 1, &o, "&algorithm=SHA1&digits=6&period=30");
	OPENSSL_cleanse(secret, sizeof(secret));
	if (!ok)
	{
		/* a truncated URI may hold part of the secret */
		OPENSSL_cleanse(out, outsize);
		return TOTP_ERR_SPACE;
	}
	out[o] = '\0';
	*outlen = o;
	return TOTP_OK;
}

totp_status
totp_generate_key(uint8_t *key, size_t keylen)
{
	if (key == NULL || keylen < TOTP_KEY_MIN || keylen > TOTP_KEY_MAX)
		return TOTP_ERR_PARAM;
	ERR_set_mark();
	if (RAND_bytes(key, (int) keylen) != 1)
	{
		ERR_pop_to_mark();
		OPENSSL_cleanse(key, keylen);
		return TOTP_ERR_CRYPTO;
	}
	ERR_pop_to_mark();
	return TOTP_OK;
}

const char *
totp_strerror(totp_status status)
{
	switch (status)
	{
		case TOTP_OK:
			return "success";
		case TOTP_ERR_FORMAT:
			return "one-time code has the wrong format";
		case TOTP_ERR_MISMATCH:
			return "one-time code does not match";
		case TOTP_ERR_REPLAY:
			return "one-time code was already used";
		case TOTP_ERR_PARAM:
			return "invalid one-time password parameters";
		case TOTP_ERR_SPACE:
			return "output buffer too small";
		case TOTP_ERR_CRYPTO:
			return "cryptographic library failure";
	}
	return "unknown one-time password error";
}
