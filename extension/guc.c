/*
 * guc.c
 *		The configuration parameters of warden, all named warden.*.
 *
 * Settings are defined here in one place, grouped by feature, so that
 * SHOW ALL and the README list the same set. The prefix is reserved once
 * every setting is defined: a misspelt warden.* name is then an error
 * instead of a silently ignored placeholder.
 *
 * Token settings are PGC_SUSET: they can be set in postgresql.conf or by a
 * superuser, never by the callers whose tokens they govern.
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "warden.h"

char	   *warden_issuer = NULL;
int			warden_audit_retention = 365 * 24 * 60;
char	   *warden_audience = NULL;
int			warden_access_token_ttl = 900;
int			warden_refresh_token_ttl = 7 * 24 * 3600;
int			warden_token_leeway = 30;
int			warden_max_token_size = 8192;
int			warden_signing_key_bits = 2048;
int			warden_password_cost = 12;
int			warden_password_min_length = 8;
int			warden_lockout_threshold = 5;
int			warden_lockout_duration = 900;
char	   *warden_totp_issuer = NULL;
char	   *warden_amqp_url = NULL;
char	   *warden_amqp_ca_file = NULL;
char	   *warden_amqp_cert_file = NULL;
char	   *warden_amqp_key_file = NULL;
char	   *warden_amqp_password_file = NULL;
char	   *warden_outbox_databases = NULL;
int			warden_outbox_workers = 2;
int			warden_outbox_batch_size = 500;
int			warden_outbox_max_attempts = 10;
int			warden_outbox_retry_min = 1000;
int			warden_outbox_retry_max = 300000;
int			warden_outbox_retention = 3600;
int			warden_outbox_confirm_timeout = 30000;

static const struct config_enum_entry warden_mask_style_options[] = {
	{"off", 0, false},
	{"full", 1, false},
	{"partial", 2, false},
	{"hash", 3, false},
	{NULL, 0, false}
};

static void
assign_master_key_file(const char *newval, void *extra)
{
	warden_master_key_reset();
}

void
warden_define_gucs(void)
{
	/* --- secrets at rest --- */
	DefineCustomStringVariable("warden.master_key_file",
							   "File holding the AES-256 master key that seals warden's secrets.",
							   "Empty means warden_master.key in the data directory, created on first use.",
							   &warden_master_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, assign_master_key_file, NULL);

	DefineCustomStringVariable("warden.master_key_previous_files",
							   "Files with earlier master keys, which still open secrets sealed before a rotation.",
							   "A comma-separated list; warden.rotate_master_key() seals everything again with the current key.",
							   &warden_master_key_previous_files, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_LIST_INPUT,
							   NULL, assign_master_key_file, NULL);

	/* --- tokens --- */
	DefineCustomStringVariable("warden.issuer",
							   "The iss claim of the tokens warden issues and accepts.",
							   NULL, &warden_issuer, "warden",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.audience",
							   "The aud claim of the tokens warden issues and accepts.",
							   NULL, &warden_audience, "warden",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.access_token_ttl",
							"Lifetime of access tokens.",
							NULL, &warden_access_token_ttl, 900, 30, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.refresh_token_ttl",
							"Lifetime of refresh tokens.",
							NULL, &warden_refresh_token_ttl, 7 * 24 * 3600,
							60, 365 * 24 * 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.token_leeway",
							"Clock skew tolerated when checking exp, nbf and iat.",
							NULL, &warden_token_leeway, 30, 0, 300,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.max_token_size",
							"Longest token accepted, in bytes.",
							NULL, &warden_max_token_size, 8192, 1024, 16384,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.signing_key_bits",
							"RSA modulus size of new signing keys.",
							NULL, &warden_signing_key_bits, 2048, 2048, 8192,
							PGC_SUSET, 0, NULL, NULL, NULL);

	/* --- passwords and login --- */
	DefineCustomIntVariable("warden.password_cost",
							"Blowfish cost (log2 of rounds) of new password hashes.",
							NULL, &warden_password_cost, 12, 4, 31,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.password_min_length",
							"Shortest password accepted, in characters.",
							NULL, &warden_password_min_length, 8, 1, 72,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.lockout_threshold",
							"Failed logins in a row that lock an account.",
							NULL, &warden_lockout_threshold, 5, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.lockout_duration",
							"How long a locked account stays locked.",
							NULL, &warden_lockout_duration, 900, 1, 7 * 24 * 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	/* --- PII masking --- */
	DefineCustomBoolVariable("warden.mask_logs",
							 "Masks PII and credentials in everything PostgreSQL writes to its log.",
							 NULL, &warden_mask_logs, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("warden.mask_style",
							 "How PII is masked: off, full ([EMAIL]), partial (j***@example.com) or hash ([EMAIL:3fa9...]).",
							 "warden.mask_styles overrides it per type.",
							 &warden_mask_style, 1, warden_mask_style_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.mask_styles",
							   "Per-type masking styles, such as 'email:partial, card:partial, ipv4:off'.",
							   NULL, &warden_mask_styles, "",
							   PGC_SUSET, GUC_LIST_INPUT,
							   warden_check_mask_styles, warden_assign_mask_styles, NULL);

	/* --- GDPR --- */
	DefineCustomIntVariable("warden.audit_retention",
							"How long warden.purge() keeps audit log rows.",
							NULL, &warden_audit_retention, 365 * 24 * 60,
							60, INT_MAX, PGC_SUSET, GUC_UNIT_MIN, NULL, NULL, NULL);

	/* --- multi-factor authentication --- */
	DefineCustomStringVariable("warden.totp_issuer",
							   "Issuer name shown by authenticator apps for warden's TOTP secrets.",
							   NULL, &warden_totp_issuer, "warden",
							   PGC_SUSET, 0, NULL, NULL, NULL);

	/*
	 * --- outbox ---
	 * The broker settings take effect at a reload: workers reconnect. The
	 * URL holds a password, so only superusers may read it.
	 */
	DefineCustomStringVariable("warden.amqp_url",
							   "RabbitMQ URL of the outbox workers (amqp:// or amqps://); empty: no delivery.",
							   NULL, &warden_amqp_url, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.amqp_ca_file",
							   "CA certificates that verify the broker of an amqps:// URL (default: the system's).",
							   NULL, &warden_amqp_ca_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.amqp_cert_file",
							   "Client certificate presented to the broker of an amqps:// URL.",
							   NULL, &warden_amqp_cert_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.amqp_key_file",
							   "Private key of warden.amqp_cert_file.",
							   NULL, &warden_amqp_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.amqp_password_file",
							   "File holding the broker password, read at every connect; "
							   "replaces the password of warden.amqp_url.",
							   NULL, &warden_amqp_password_file, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.outbox_databases",
							   "Databases whose outbox the workers deliver (comma-separated).",
							   NULL, &warden_outbox_databases, "",
							   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_workers",
							"Outbox workers per database; keys are spread over them by hash.",
							NULL, &warden_outbox_workers, 2, 1, 32,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_batch_size",
							"Messages a worker publishes before it waits for their confirms.",
							NULL, &warden_outbox_batch_size, 500, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_max_attempts",
							"Failed attempts after which a message is dead (see warden.outbox_dead).",
							NULL, &warden_outbox_max_attempts, 10, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_retry_min",
							"Wait after a message's first failed attempt; doubles per attempt, with jitter.",
							NULL, &warden_outbox_retry_min, 1000, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_retry_max",
							"The longest wait between a message's attempts.",
							NULL, &warden_outbox_retry_max, 300000, 1, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_retention",
							"How long delivered messages stay in warden.outbox before they are purged.",
							NULL, &warden_outbox_retention, 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("warden.outbox_confirm_timeout",
							"How long a worker waits for the broker's confirms before it reconnects.",
							NULL, &warden_outbox_confirm_timeout, 30000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	/* --- authorization --- */
	DefineCustomIntVariable("warden.check_cache_size",
							"Decisions warden.check() keeps per backend before starting over.",
							NULL, &warden_check_cache_size, 65536, 1024, 16 * 1024 * 1024,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("warden.principal",
							   "The principal of the current request (set by the edge with SET LOCAL).",
							   "Only members of warden_auth may set it.",
							   &warden_principal, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL,
							   warden_check_identity_setting, NULL, NULL);
	DefineCustomStringVariable("warden.claims",
							   "The verified token claims of the current request, as JSON.",
							   "Only members of warden_auth may set it.",
							   &warden_claims, "",
							   PGC_USERSET, GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL,
							   warden_check_identity_setting, NULL, NULL);

	MarkGUCPrefixReserved("warden");
}
