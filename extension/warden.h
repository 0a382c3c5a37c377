/*
 * warden.h
 *		Declarations shared by the files of the warden extension: settings,
 *		SQLSTATEs, and each module's entry points.
 */
#ifndef WARDEN_H
#define WARDEN_H

#include "datatype/timestamp.h"
#include "utils/guc.h"

/*
 * SQLSTATEs of warden's own errors (class WT: tokens and credentials). The
 * README lists them with their meaning; the edge maps them to HTTP. Most
 * are raised from the install script's PL/pgSQL, by the same codes.
 */
#define ERRCODE_WARDEN_TOKEN_MALFORMED		MAKE_SQLSTATE('W','T','0','0','1')
#define ERRCODE_WARDEN_TOKEN_TOO_LARGE		MAKE_SQLSTATE('W','T','0','0','2')
#define ERRCODE_WARDEN_TOKEN_ALGORITHM		MAKE_SQLSTATE('W','T','0','0','3')
#define ERRCODE_WARDEN_TOKEN_UNKNOWN_KEY	MAKE_SQLSTATE('W','T','0','0','4')
#define ERRCODE_WARDEN_TOKEN_SIGNATURE		MAKE_SQLSTATE('W','T','0','0','5')
#define ERRCODE_WARDEN_TOKEN_EXPIRED		MAKE_SQLSTATE('W','T','0','0','6')
#define ERRCODE_WARDEN_TOKEN_NOT_YET_VALID	MAKE_SQLSTATE('W','T','0','0','7')
#define ERRCODE_WARDEN_TOKEN_REVOKED		MAKE_SQLSTATE('W','T','0','0','8')
#define ERRCODE_WARDEN_TOKEN_ISSUER			MAKE_SQLSTATE('W','T','0','0','9')
#define ERRCODE_WARDEN_TOKEN_AUDIENCE		MAKE_SQLSTATE('W','T','0','1','0')
#define ERRCODE_WARDEN_TOKEN_CLAIMS			MAKE_SQLSTATE('W','T','0','1','1')
#define ERRCODE_WARDEN_REFRESH_INVALID	MAKE_SQLSTATE('W','T','0','1','2')
#define ERRCODE_WARDEN_UNKNOWN_PRINCIPAL	MAKE_SQLSTATE('W','T','1','0','1')
#define ERRCODE_WARDEN_DUPLICATE_PRINCIPAL	MAKE_SQLSTATE('W','T','1','0','2')
#define ERRCODE_WARDEN_MFA_REQUIRED			MAKE_SQLSTATE('W','T','2','0','1')
#define ERRCODE_WARDEN_MFA_INVALID_CODE		MAKE_SQLSTATE('W','T','2','0','2')
#define ERRCODE_WARDEN_MFA_ALREADY_ENABLED	MAKE_SQLSTATE('W','T','2','0','3')
#define ERRCODE_WARDEN_MFA_NOT_ENROLLED		MAKE_SQLSTATE('W','T','2','0','4')
#define ERRCODE_WARDEN_API_KEY_INVALID		MAKE_SQLSTATE('W','T','3','0','1')

/* class WA: authorization policy */
#define ERRCODE_WARDEN_UNKNOWN_ROLE			MAKE_SQLSTATE('W','A','0','0','1')
#define ERRCODE_WARDEN_MALFORMED_PERMISSION	MAKE_SQLSTATE('W','A','0','0','2')
#define ERRCODE_WARDEN_MALFORMED_RESOURCE	MAKE_SQLSTATE('W','A','0','0','3')
#define ERRCODE_WARDEN_POLICY_CYCLE			MAKE_SQLSTATE('W','A','0','0','4')
#define ERRCODE_WARDEN_MALFORMED_ROLE		MAKE_SQLSTATE('W','A','0','0','5')
#define ERRCODE_WARDEN_DUPLICATE_ROLE		MAKE_SQLSTATE('W','A','0','0','6')
#define ERRCODE_WARDEN_NESTED_GROUP			MAKE_SQLSTATE('W','A','0','0','7')
#define ERRCODE_WARDEN_MALFORMED_ROUTE		MAKE_SQLSTATE('W','A','0','0','8')

/* class WO: outbox */
#define ERRCODE_WARDEN_OUTBOX_NO_DEAD_MESSAGE	MAKE_SQLSTATE('W','O','0','0','1')
#define ERRCODE_WARDEN_OUTBOX_MALFORMED		MAKE_SQLSTATE('W','O','0','0','2')

/* Seconds since the Unix epoch, as JWT and TOTP count time. */
static inline int64
warden_unix_time(TimestampTz t)
{
	return (int64) (t / USECS_PER_SEC) - (t % USECS_PER_SEC < 0) +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/* guc.c */
extern char *warden_issuer;
extern char *warden_audience;
extern int	warden_access_token_ttl;
extern int	warden_refresh_token_ttl;
extern int	warden_token_leeway;
extern int	warden_max_token_size;
extern int	warden_signing_key_bits;
extern int	warden_audit_retention;
extern int	warden_password_cost;
extern int	warden_password_min_length;
extern int	warden_lockout_threshold;
extern int	warden_lockout_duration;
extern char *warden_totp_issuer;
extern void warden_define_gucs(void);

/* masterkey.c */
#define WARDEN_MASTER_KEY_LEN 32
extern char *warden_master_key_file;
extern char *warden_master_key_previous_files;
extern const uint8 *warden_master_key(uint32 *key_id);
extern const uint8 *warden_master_key_by_id(uint32 key_id);
extern void warden_master_key_reset(void);

/* secrets.c */
extern bytea *warden_seal(const void *data, size_t len, const char *context);
extern void *warden_unseal(const bytea *sealed, const char *context,
						   size_t *len);

/* cache.c */
extern void warden_cache_watch(const char *relname, bool *valid);
extern struct HTAB *warden_cache_table(const char *name, MemoryContext *cxt,
									   const char *const *tables, int ntables,
									   bool *valid, Size keysize,
									   Size entrysize, long nelem,
									   int hash_flags);

/* authz.c */
extern int	warden_check_cache_size;
extern char *warden_principal;
extern char *warden_claims;
extern bool warden_check_identity_setting(char **newval, void **extra,
										  GucSource source);

/* pii.c */
extern bool warden_mask_logs;
extern int	warden_mask_style;
extern char *warden_mask_styles;
extern bool warden_check_mask_styles(char **newval, void **extra,
									 GucSource source);
extern void warden_assign_mask_styles(const char *newval, void *extra);
extern void warden_install_log_hook(void);

/* failures.c */
extern Size warden_failures_shmem_size(void);
extern void warden_failures_shmem_request(void);
extern void warden_failures_shmem_startup(void);

/* outbox.c, outbox_worker.c */
extern char *warden_amqp_url;
extern char *warden_amqp_ca_file;
extern char *warden_amqp_cert_file;
extern char *warden_amqp_key_file;
extern char *warden_amqp_password_file;
extern char *warden_outbox_databases;
extern int	warden_outbox_workers;
extern int	warden_outbox_batch_size;
extern int	warden_outbox_max_attempts;
extern int	warden_outbox_retry_min;
extern int	warden_outbox_retry_max;
extern int	warden_outbox_retention;
extern int	warden_outbox_confirm_timeout;
extern void warden_outbox_shmem_request(void);
extern void warden_outbox_shmem_startup(void);
extern void warden_outbox_register_workers(void);
extern TimestampTz warden_login_failure(int64 principal_id, const char *principal,
										const char *reason, bool count);
extern void warden_audit_async(const char *event, const char *principal,
							   const char *prefix);

/* tokens.c */
extern text *warden_sign_access_token(const char *sub, const char *tenant,
									  char **amr, int namr, const char *scope,
									  TimestampTz valid_after, const char *jti,
									  char **roles, int nroles);

/* keys.c */
struct evp_pkey_st;
struct jwt_verifier;
extern struct evp_pkey_st *warden_signing_key(const char **kid);
extern struct jwt_verifier *warden_lookup_verify_key(void *arg, const char *kid);
extern void warden_keys_prepare(void);

#endif							/* WARDEN_H */
