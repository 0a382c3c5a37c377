/*
 * tlscert.c
 *		The edge's HTTPS certificate and key: read from their files,
 *		checked, handed to every TLS handshake, and read again on SIGHUP.
 *
 * libmicrohttpd asks tlscert_retrieve() for the certificate at every
 * handshake (MHD_OPTION_HTTPS_CERT_CALLBACK, a GnuTLS retrieve function)
 * instead of holding one fixed pair, so a reload is one pointer swapped:
 * handshakes that start after it get the new pair, connections already
 * established keep the session they have and are never dropped.
 *
 * A pair replaces the current one only once all of it has been read and
 * checked: the chain parses with the server's certificate first, the key
 * parses and is the key of that certificate, and the certificate has not
 * expired. Anything else (a missing file, a half-written one, a key from
 * another pair, an expired certificate) leaves the current pair in place
 * and is logged with the reason. Tools that write the certificate and the
 * key one after the other may be caught between the two; the check then
 * refuses the mismatched pair and the next SIGHUP takes the finished one.
 *
 * Lifetime: GnuTLS neither copies nor frees what a retrieve function
 * returns; it uses the pointers while the handshake that asked builds its
 * first flight. A replaced pair is therefore kept for TLSCERT_RETIRE_MS
 * before it is freed (at a later reload, or at exit), far longer than any
 * handshake can last: libmicrohttpd closes a connection idle for a minute.
 *
 * Threads: tlscert_load, tlscert_reload and tlscert_free run on the main
 * thread only (start-up, SIGHUP, exit); tlscert_retrieve on any worker.
 * They share tlscert_current, an atomic pointer published with release
 * and read with acquire, so a worker sees a pair only fully built. The
 * retired list and the file names are the main thread's alone.
 */
#include "tlscert.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/x509.h>

#include "log.h"
#include "timeutil.h"

/* How long a replaced pair is kept before it is freed. */
#define TLSCERT_RETIRE_MS (10 * 60 * 1000)
/* Longest serial number (RFC 5280: 20 octets) and subject logged. */
#define TLSCERT_SERIAL_MAX 20
#define TLSCERT_SUBJECT_MAX 256

typedef struct TlsPair
{
	gnutls_pcert_st pcerts[TLSCERT_CHAIN_MAX];
	unsigned int npcerts;		/* imported, to deinit */
	gnutls_privkey_t key;
	int64_t		retired_ms;		/* monotonic, once replaced */
	struct TlsPair *next;		/* in the retired list */
} TlsPair;

/* What the log says of a pair: public facts only. */
typedef struct TlsPairInfo
{
	char		serial[TLSCERT_SERIAL_MAX * 2 + 1];
	char		subject[TLSCERT_SUBJECT_MAX + 1];
	char		not_after[TIMEUTIL_UTC_LEN];
	unsigned int chain;
} TlsPairInfo;

static _Atomic(TlsPair *) tlscert_current;
static TlsPair *tlscert_retired;
static const char *tlscert_cert_file;
static const char *tlscert_key_file;

static void
tlscert_pair_free(TlsPair *p)
{
	unsigned int i;

	if (p == NULL)
		return;
	for (i = 0; i < p->npcerts; i++)
		gnutls_pcert_deinit(&p->pcerts[i]);
	if (p->key != NULL)
		gnutls_privkey_deinit(p->key);
	free(p);
}

/*
 * A PEM file's text, NUL-terminated, at most TLSCERT_FILE_MAX bytes; NULL
 * with a reason naming the setting and the file, never the contents. The
 * caller wipes and frees it.
 */
static char *
tlscert_read(const char *path, const char *setting, size_t *len,
			 char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char	   *text;
	size_t		n;

	if (f == NULL)
	{
		snprintf(err, errlen, "%s: cannot read %s: %s", setting, path,
				 strerror(errno));
		return NULL;
	}
	text = malloc(TLSCERT_FILE_MAX + 2);
	if (text == NULL)
	{
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", setting);
		return NULL;
	}
	n = fread(text, 1, TLSCERT_FILE_MAX + 1, f);
	if (ferror(f))
	{
		snprintf(err, errlen, "%s: cannot read %s: %s", setting, path,
				 strerror(errno));
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	text[n] = '\0';
	if (n == 0 || n > TLSCERT_FILE_MAX || strstr(text, "-----BEGIN") == NULL)
	{
		explicit_bzero(text, n);
		free(text);
		snprintf(err, errlen, "%s: %s is not a PEM file of at most 1 MiB",
				 setting, path);
		return NULL;
	}
	*len = n;
	return text;
}

/* The key's public half is the certificate's public key. */
static bool
tlscert_key_matches(gnutls_pcert_st *leaf, gnutls_privkey_t key)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t a = {NULL, 0};
	gnutls_datum_t b = {NULL, 0};
	bool		same = false;

	if (gnutls_pubkey_init(&pub) == 0 &&
		gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
		gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
		gnutls_pubkey_export2(leaf->pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
		same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return same;
}

/* Printable ASCII only, so a log line stays one valid JSON string. */
static void
tlscert_printable(char *s)
{
	for (; *s != '\0'; s++)
	{
		if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
			*s = '?';
	}
}

/*
 * The server's certificate (the chain's first): not expired, and its
 * serial, subject and end of validity for the log.
 */
static bool
tlscert_check_leaf(const gnutls_pcert_st *leaf, const char *cert_file,
				   TlsPairInfo *info, char *err, size_t errlen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t dn = {NULL, 0};
	unsigned char serial[TLSCERT_SERIAL_MAX + 8];
	size_t		serial_len = sizeof(serial);
	struct timespec until = {0, 0};
	time_t		not_after;
	int			rc;
	size_t		i;

	rc = gnutls_x509_crt_init(&crt);
	if (rc == 0)
		rc = gnutls_x509_crt_import(crt, &leaf->cert, GNUTLS_X509_FMT_DER);
	if (rc != 0)
	{
		snprintf(err, errlen, "WARDEN_TLS_CERT_FILE: %s: %s", cert_file,
				 gnutls_strerror(rc));
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		return false;
	}
	not_after = gnutls_x509_crt_get_expiration_time(crt);
	until.tv_sec = not_after;
	timeutil_format_utc(&until, info->not_after);
	if (not_after == (time_t) -1 || not_after <= time(NULL))
	{
		snprintf(err, errlen, "WARDEN_TLS_CERT_FILE: the certificate in %s "
				 "expired (not after %s)", cert_file, info->not_after);
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	info->serial[0] = '\0';
	if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) == 0)
	{
		for (i = 0; i < serial_len && i < TLSCERT_SERIAL_MAX; i++)
			snprintf(info->serial + 2 * i, 3, "%02x", serial[i]);
	}
	info->subject[0] = '\0';
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0)
	{
		snprintf(info->subject, sizeof(info->subject), "%.*s",
				 (int) dn.size, (const char *) dn.data);
		tlscert_printable(info->subject);
	}
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return true;
}

/* Reads and checks a pair; NULL with a reason in err. */
static TlsPair *
tlscert_pair_load(const char *cert_file, const char *key_file,
				  TlsPairInfo *info, char *err, size_t errlen)
{
	TlsPair    *p = NULL;
	char	   *cert_text = NULL;
	char	   *key_text = NULL;
	size_t		cert_len = 0;
	size_t		key_len = 0;
	gnutls_datum_t d;
	unsigned int n = TLSCERT_CHAIN_MAX;
	int			rc;

	cert_text = tlscert_read(cert_file, "WARDEN_TLS_CERT_FILE", &cert_len,
							 err, errlen);
	if (cert_text == NULL)
		goto fail;
	key_text = tlscert_read(key_file, "WARDEN_TLS_KEY_FILE", &key_len,
							err, errlen);
	if (key_text == NULL)
		goto fail;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
	{
		snprintf(err, errlen, "TLS certificate: out of memory");
		goto fail;
	}

	d.data = (unsigned char *) cert_text;
	d.size = (unsigned int) cert_len;
	rc = gnutls_pcert_list_import_x509_raw(p->pcerts, &n, &d, GNUTLS_X509_FMT_PEM,
										   GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED |
										   GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (rc != 0 || n == 0)
	{
		snprintf(err, errlen, "WARDEN_TLS_CERT_FILE: %s holds no usable "
				 "certificate chain (server certificate first, at most %d): %s",
				 cert_file, TLSCERT_CHAIN_MAX,
				 rc != 0 ? gnutls_strerror(rc) : "none found");
		goto fail;
	}
	p->npcerts = n;

	rc = gnutls_privkey_init(&p->key);
	if (rc == 0)
	{
		d.data = (unsigned char *) key_text;
		d.size = (unsigned int) key_len;
		rc = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM,
											NULL, 0);
	}
	if (rc != 0)
	{
		/* GnuTLS's message names the failure, never the key's bytes */
		snprintf(err, errlen, "WARDEN_TLS_KEY_FILE: %s holds no usable "
				 "private key (unencrypted PEM): %s", key_file, gnutls_strerror(rc));
		goto fail;
	}
	if (!tlscert_key_matches(&p->pcerts[0], p->key))
	{
		snprintf(err, errlen, "WARDEN_TLS_KEY_FILE: %s is not the key of the "
				 "certificate in %s", key_file, cert_file);
		goto fail;
	}
	if (!tlscert_check_leaf(&p->pcerts[0], cert_file, info, err, errlen))
		goto fail;
	info->chain = n;

	explicit_bzero(key_text, key_len);
	free(key_text);
	free(cert_text);
	return p;

fail:
	if (key_text != NULL)
		explicit_bzero(key_text, key_len);
	free(key_text);
	free(cert_text);
	tlscert_pair_free(p);
	return NULL;
}

static void
tlscert_log_loaded(const char *msg, const TlsPairInfo *info)
{
	log_write(LOG_LEVEL_INFO, msg, "{s:s, s:s, s:s, s:i, s:s}",
			  "serial", info->serial, "subject", info->subject,
			  "not_after", info->not_after, "chain", (int) info->chain,
			  "file", tlscert_cert_file);
}

bool
tlscert_load(const char *cert_file, const char *key_file, char *err,
			 size_t errlen)
{
	TlsPairInfo info;
	TlsPair    *p;

	tlscert_cert_file = cert_file;
	tlscert_key_file = key_file;
	p = tlscert_pair_load(cert_file, key_file, &info, err, errlen);
	if (p == NULL)
		return false;
	atomic_store_explicit(&tlscert_current, p, memory_order_release);
	tlscert_log_loaded("TLS certificate loaded", &info);
	return true;
}

/* Frees the retired pairs no handshake can still be using. */
static void
tlscert_sweep(int64_t now_ms)
{
	TlsPair   **link = &tlscert_retired;
	TlsPair    *p;

	while ((p = *link) != NULL)
	{
		if (now_ms - p->retired_ms >= TLSCERT_RETIRE_MS)
		{
			*link = p->next;
			tlscert_pair_free(p);
		}
		else
			link = &p->next;
	}
}

bool
tlscert_reload(void)
{
	char		err[600];
	TlsPairInfo info;
	TlsPair    *p;
	TlsPair    *old;
	int64_t		now = timeutil_mono_ms();

	if (tlscert_cert_file == NULL)
		return false;
	tlscert_sweep(now);
	p = tlscert_pair_load(tlscert_cert_file, tlscert_key_file, &info,
						  err, sizeof(err));
	if (p == NULL)
	{
		log_write(LOG_LEVEL_WARN, "TLS certificate not reloaded, the current one stays",
				  "{s:s}", "error", err);
		return false;
	}
	old = atomic_exchange_explicit(&tlscert_current, p, memory_order_acq_rel);
	if (old != NULL)
	{
		old->retired_ms = now;
		old->next = tlscert_retired;
		tlscert_retired = old;
	}
	tlscert_log_loaded("TLS certificate reloaded", &info);
	return true;
}

/*
 * At every handshake: the current pair. Only the server side calls this,
 * where GnuTLS passes no acceptable CAs or algorithms, and checks the
 * key's algorithm against what the client offered itself.
 */
int
tlscert_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn,
				 int nreqs, const gnutls_pk_algorithm_t *pk_algos,
				 int pk_algos_length, gnutls_pcert_st **pcert,
				 unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	TlsPair    *p = atomic_load_explicit(&tlscert_current, memory_order_acquire);

	(void) session;
	(void) req_ca_rdn;
	(void) nreqs;
	(void) pk_algos;
	(void) pk_algos_length;
	if (p == NULL)
		return -1;
	*pcert = p->pcerts;
	*pcert_length = p->npcerts;
	*privkey = p->key;
	return 0;
}

void
tlscert_free(void)
{
	TlsPair    *p;

	tlscert_pair_free(atomic_exchange(&tlscert_current, NULL));
	while ((p = tlscert_retired) != NULL)
	{
		tlscert_retired = p->next;
		tlscert_pair_free(p);
	}
}
