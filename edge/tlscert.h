/*
 * tlscert.h
 *		The edge's HTTPS certificate and key: read from their files,
 *		checked, handed to every TLS handshake, and read again on SIGHUP
 *		so that certificates rotate without a restart.
 *
 * tlscert_load() at start-up and tlscert_reload() (SIGHUP) run on the main
 * thread only; tlscert_retrieve() is libmicrohttpd's certificate callback
 * (MHD_OPTION_HTTPS_CERT_CALLBACK) and runs on any worker thread, at every
 * handshake. See tlscert.c for how the two meet.
 */
#ifndef EDGE_TLSCERT_H
#define EDGE_TLSCERT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest PEM file read, certificate chain or key. */
#define TLSCERT_FILE_MAX (1024 * 1024)
/* Most certificates in a chain file. */
#define TLSCERT_CHAIN_MAX 16

/*
 * Reads and checks the pair (see tlscert.c) and makes it the one served.
 * False with a reason in err (naming the file, never its contents).
 */
extern bool tlscert_load(const char *cert_file, const char *key_file,
						 char *err, size_t errlen);

/*
 * Reads the same files again; only a pair that passes every check replaces
 * the current one. Logs the outcome either way; false if the current pair
 * stays because the new one was refused.
 */
extern bool tlscert_reload(void);

/* The GnuTLS retrieve function (gnutls_certificate_retrieve_function2). */
extern int	tlscert_retrieve(gnutls_session_t session,
							 const gnutls_datum_t *req_ca_rdn, int nreqs,
							 const gnutls_pk_algorithm_t *pk_algos,
							 int pk_algos_length, gnutls_pcert_st **pcert,
							 unsigned int *pcert_length,
							 gnutls_privkey_t *privkey);

/* Frees every pair; only once the HTTP daemon has stopped. */
extern void tlscert_free(void);

#endif							/* EDGE_TLSCERT_H */
