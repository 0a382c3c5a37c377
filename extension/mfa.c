/*
 * mfa.c
 *		TOTP multi-factor authentication (RFC 6238): secrets, codes and
 *		recovery codes. The SQL functions around them (mfa_enroll, login...)
 *		are in the install script; this file does the cryptography.
 *
 * A TOTP secret is 20 random bytes, stored only sealed under the master
 * key and bound to its principal ("warden/totp/<principal id>"). A code is
 * accepted once: warden.mfa_totp.last_step keeps the highest time step used,
 * and codes of that step or earlier are refused. Recovery codes are 60
 * random bits shown once and stored as SHA-256 digests.
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/timestamp.h"

#include "base32.h"
#include "totp.h"
#include "warden.h"

#define TOTP_WINDOW 1			/* one step either side: clock drift */

static char *
totp_context(int64 principal_id)
{
	return psprintf("warden/totp/" INT64_FORMAT, principal_id);
}

PG_FUNCTION_INFO_V1(warden_totp_enroll);

/*
 * warden._totp_enroll(principal_id bigint, account text, OUT secret bytea,
 *					   OUT uri text): a new sealed secret and the otpauth://
 * URI that shows it to an authenticator app (once).
 */
Datum
warden_totp_enroll(PG_FUNCTION_ARGS)
{
	int64		principal_id = PG_GETARG_INT64(0);
	char	   *account = text_to_cstring(PG_GETARG_TEXT_PP(1));
	uint8		key[TOTP_KEY_DEFAULT];
	char		uri[1024];
	size_t		urilen;
	totp_status st;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	char	   *ctx = totp_context(principal_id);

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	st = totp_generate_key(key, sizeof(key));
	if (st == TOTP_OK)
		st = totp_uri(warden_totp_issuer, account, key, sizeof(key),
					  uri, sizeof(uri), &urilen);
	if (st != TOTP_OK)
	{
		OPENSSL_cleanse(key, sizeof(key));
		ereport(ERROR,
				(errcode(st == TOTP_ERR_SPACE ? ERRCODE_PROGRAM_LIMIT_EXCEEDED :
						 ERRCODE_INTERNAL_ERROR),
				 errmsg("could not create a TOTP secret: %s", totp_strerror(st))));
	}
	values[0] = PointerGetDatum(warden_seal(key, sizeof(key), ctx));
	OPENSSL_cleanse(key, sizeof(key));
	values[1] = PointerGetDatum(cstring_to_text_with_len(uri, urilen));
	OPENSSL_cleanse(uri, sizeof(uri));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

PG_FUNCTION_INFO_V1(warden_totp_check);

/*
 * warden._totp_check(secret bytea, principal_id bigint, code text,
 *					  last_step bigint) returns bigint
 *
 * The time step the code matched, to be stored as the new last_step, or
 * NULL when it does not match, was used already, or is not six digits.
 */
Datum
warden_totp_check(PG_FUNCTION_ARGS)
{
	bytea	   *sealed = PG_GETARG_BYTEA_PP(0);
	int64		principal_id = PG_GETARG_INT64(1);
	char	   *code = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int64		last_step = PG_GETARG_INT64(3);
	size_t		keylen;
	uint8	   *key = warden_unseal(sealed, totp_context(principal_id), &keylen);
	int64_t		matched = 0;
	int64		now = warden_unix_time(GetCurrentTimestamp());
	totp_status st;

	st = totp_verify(key, keylen, code, now, TOTP_PERIOD, TOTP_DIGITS,
					 TOTP_WINDOW, last_step, &matched);
	OPENSSL_cleanse(key, keylen);
	if (st == TOTP_ERR_CRYPTO || st == TOTP_ERR_PARAM)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not check a TOTP code: %s", totp_strerror(st))));
	if (st != TOTP_OK)
		PG_RETURN_NULL();
	PG_RETURN_INT64(matched);
}

PG_FUNCTION_INFO_V1(warden_totp_code);

/*
 * warden._totp_code(secret bytea, principal_id bigint, at timestamptz)
 * returns text: the code an authenticator shows at that time. For tests
 * and tools run by administrators; never granted to anyone.
 */
Datum
warden_totp_code(PG_FUNCTION_ARGS)
{
	bytea	   *sealed = PG_GETARG_BYTEA_PP(0);
	int64		principal_id = PG_GETARG_INT64(1);
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(2);
	size_t		keylen;
	uint8	   *key = warden_unseal(sealed, totp_context(principal_id), &keylen);
	int64		secs = warden_unix_time(at);
	uint32_t	code;
	totp_status st;

	st = totp_code(key, keylen, (uint64_t) (secs / TOTP_PERIOD), TOTP_DIGITS,
				   &code);
	OPENSSL_cleanse(key, keylen);
	if (st != TOTP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a TOTP code: %s", totp_strerror(st))));
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%06u", code)));
}

PG_FUNCTION_INFO_V1(warden_recovery_code);

/*
 * warden._recovery_code() returns text: 60 random bits as twelve base32
 * letters and digits in three groups (xxxx-xxxx-xxxx), easy to type from
 * paper.
 */
Datum
warden_recovery_code(PG_FUNCTION_ARGS)
{
	uint8		raw[8];
	char		enc[32];
	size_t		len;
	char	   *out;

	if (!pg_strong_random(raw, sizeof(raw)) ||
		base32_encode(raw, sizeof(raw), enc, sizeof(enc), &len) != BASE32_OK ||
		len < 12)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));
	OPENSSL_cleanse(raw, sizeof(raw));
	out = psprintf("%.4s-%.4s-%.4s", enc, enc + 4, enc + 8);
	OPENSSL_cleanse(enc, sizeof(enc));
	PG_RETURN_TEXT_P(cstring_to_text(asc_tolower(out, strlen(out))));
}
