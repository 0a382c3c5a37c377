/*
 * form.h
 *		application/x-www-form-urlencoded bodies (the WHATWG URL standard's
 *		form encoding, which OAuth 2.0 token requests use, RFC 6749 section
 *		4.1.3 and appendix B).
 *
 * Strict where OAuth asks for it: a name that appears twice makes the body
 * malformed (RFC 6749 section 3.2), as do a broken percent escape, a
 * decoded NUL and text that is not UTF-8. Nothing is allocated: names and
 * values are decoded into a caller's buffer of at least len + 1 bytes.
 */
#ifndef WARDEN_FORM_H
#define WARDEN_FORM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct FormField
{
	const char *name;
	const char *value;
} FormField;

typedef enum FormStatus
{
	FORM_OK = 0,
	FORM_MALFORMED,				/* bad escape, NUL, invalid UTF-8, empty name */
	FORM_DUPLICATE,				/* a name given twice */
	FORM_TOO_MANY				/* more fields than the caller takes */
} FormStatus;

/*
 * Decodes body[0..len) into fields[0..*nfields), names and values pointing
 * into buf (buflen >= len + 1). On input *nfields is the room in fields.
 */
extern FormStatus form_parse(const char *body, size_t len, char *buf,
							 size_t buflen, FormField *fields, int *nfields);

/* The value of name, or NULL. */
extern const char *form_get(const FormField *fields, int nfields,
							const char *name);

#endif							/* WARDEN_FORM_H */
