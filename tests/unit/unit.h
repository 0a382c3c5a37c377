/*
 * unit.h
 *		The harness of warden's C unit tests: table-driven programs that
 *		count checks and name the failing row.
 *
 * A test program calls UNIT_CHECK for every assertion (the message names the
 * table row, so a failure says which input broke) and returns UNIT_MAIN_END()
 * from main. The summary line "suite <program>: N passed, N failed" is what
 * scripts/test adds up. Tests run under AddressSanitizer and UBSan, so an
 * out-of-bounds read fails the run even when every check passed.
 */
#ifndef WARDEN_UNIT_H
#define WARDEN_UNIT_H

#include <stdio.h>
#include <string.h>

static int	unit_passed;
static int	unit_failed;

#define UNIT_CHECK(cond, ...) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			printf("not ok - %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

/* Compares two byte strings and reports both sides on a mismatch. */
#define UNIT_CHECK_MEM(got, got_len, want, want_len, ...) \
	do { \
		size_t		unit_gl_ = (got_len); \
		size_t		unit_wl_ = (want_len); \
		int			unit_ok_ = unit_gl_ == unit_wl_ && \
			memcmp((got), (want), unit_wl_) == 0; \
		UNIT_CHECK(unit_ok_, __VA_ARGS__); \
		if (!unit_ok_) \
			printf("#   got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"\n", \
				   unit_gl_, (int) unit_gl_, (const char *) (got), \
				   unit_wl_, (int) unit_wl_, (const char *) (want)); \
	} while (0)

#define UNIT_MAIN_END() unit_main_end(__FILE__)

static inline int
unit_main_end(const char *file)
{
	const char *base = strrchr(file, '/');
	const char *dot;
	int			len;

	base = base ? base + 1 : file;
	dot = strrchr(base, '.');
	len = dot ? (int) (dot - base) : (int) strlen(base);
	printf("suite %.*s: %d passed, %d failed\n", len, base,
		   unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}

#endif							/* WARDEN_UNIT_H */
