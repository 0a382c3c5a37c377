/*
 * guc.c
 *		The configuration parameters of warden, all named warden.*.
 *
 * Settings are defined here in one place, grouped by feature, so that
 * SHOW ALL and the README list the same set. The prefix is reserved once
 * every setting is defined: a misspelt warden.* name is then an error
 * instead of a silently ignored placeholder.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "warden.h"

void
warden_define_gucs(void)
{
	MarkGUCPrefixReserved("warden");
}
