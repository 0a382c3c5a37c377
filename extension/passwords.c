/*
 * passwords.c
 *		Password hashing with pgcrypto's crypt() (Blowfish).
 *
 * pgcrypto's C functions are called directly through the function manager
 * (load_external_function), so warden needs pgcrypto's library installed
 * but not the pgcrypto extension created in any schema, and no search_path
 * can redirect the call. The cost comes from warden.password_cost.
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "warden.h"

static PGFunction pgcrypto_crypt = NULL;
static PGFunction pgcrypto_gen_salt_rounds = NULL;

static void
pgcrypto_load(void)
{
	if (pgcrypto_crypt != NULL)
		return;
	pgcrypto_crypt = load_external_function("$libdir/pgcrypto", "pg_crypt",
											true, NULL);
	pgcrypto_gen_salt_rounds = load_external_function("$libdir/pgcrypto",
													  "pg_gen_salt_rounds",
													  true, NULL);
}

static text *
password_crypt(text *password, text *salt)
{
	pgcrypto_load();
	return DatumGetTextPP(DirectFunctionCall2(pgcrypto_crypt,
											  PointerGetDatum(password),
											  PointerGetDatum(salt)));
}

static text *
password_hash(text *password)
{
	text	   *salt;

	pgcrypto_load();
	salt = DatumGetTextPP(DirectFunctionCall2(pgcrypto_gen_salt_rounds,
											  PointerGetDatum(cstring_to_text("bf")),
											  Int32GetDatum(warden_password_cost)));
	return password_crypt(password, salt);
}

PG_FUNCTION_INFO_V1(warden_password_hash);

/* warden._password_hash(password text) returns text */
Datum
warden_password_hash(PG_FUNCTION_ARGS)
{
	text	   *password = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(password);

	if (len < warden_password_min_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password must be at least %d characters long",
						warden_password_min_length)));
	/* Blowfish reads only the first 72 bytes: a longer password is a trap */
	if (len > 72)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password must be at most 72 bytes long")));
	PG_RETURN_TEXT_P(password_hash(password));
}

PG_FUNCTION_INFO_V1(warden_password_check);

/*
 * warden._password_check(password text, hash text) returns boolean
 *
 * A NULL hash (no such user, or no password) is checked against a freshly
 * made hash of the same cost and always fails, so that the time taken does
 * not tell whether the user exists. The comparison is constant-time.
 */
Datum
warden_password_check(PG_FUNCTION_ARGS)
{
	text	   *password;
	text	   *hash;
	text	   *computed;
	bool		ok;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	password = PG_GETARG_TEXT_PP(0);
	if (PG_ARGISNULL(1))
	{
		(void) password_hash(password);
		PG_RETURN_BOOL(false);
	}
	hash = PG_GETARG_TEXT_PP(1);
	computed = password_crypt(password, hash);
	ok = VARSIZE_ANY_EXHDR(computed) == VARSIZE_ANY_EXHDR(hash) &&
		CRYPTO_memcmp(VARDATA_ANY(computed), VARDATA_ANY(hash),
					  VARSIZE_ANY_EXHDR(hash)) == 0;
	PG_RETURN_BOOL(ok);
}
