/*
 * version.c
 *		SQL function warden.version().
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(warden_version);

/* Reports the version this library was built as, not the catalog's. */
Datum
warden_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(WARDEN_VERSION));
}
