/*
 * pglsn.h
 *		PostgreSQL WAL positions (pg_lsn) as text: "X/Y", two hexadecimal
 *		numbers of one to eight digits, the high and low 32 bits.
 *
 * The edge hands a client the position of its commit (the Warden-LSN
 * header) and reads it back from the client, so the parser takes exactly
 * what PostgreSQL's pg_lsn input takes and nothing else: no blanks, no
 * signs, no "0x".
 */
#ifndef WARDEN_PGLSN_H
#define WARDEN_PGLSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "FFFFFFFF/FFFFFFFF" and its NUL. */
#define PGLSN_TEXT_MAX 18

/* text[0..len) as an LSN into *out; false when it is not exactly one. */
extern bool pglsn_parse(const char *text, size_t len, uint64_t *out);

/* lsn as PostgreSQL writes it (upper-case hex) into out; returns its length. */
extern int	pglsn_format(uint64_t lsn, char out[PGLSN_TEXT_MAX]);

#endif							/* WARDEN_PGLSN_H */
