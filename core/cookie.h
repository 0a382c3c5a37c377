/*
 * cookie.h
 *		Reading one cookie from a Cookie request header (RFC 6265 section
 *		5.4: "name=value" pairs separated by "; ").
 */
#ifndef WARDEN_COOKIE_H
#define WARDEN_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The value of the cookie called name in header (a value in double quotes
 * loses them), copied NUL-terminated into out. False when the cookie is
 * absent, given twice (ambiguous: refused), empty, or longer than outlen - 1.
 */
extern bool cookie_get(const char *header, const char *name, char *out,
					   size_t outlen);

#endif							/* WARDEN_COOKIE_H */
