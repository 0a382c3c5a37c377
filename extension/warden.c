/*
 * warden.c
 *		Entry point of the warden extension: _PG_init only.
 *
 * warden must be loaded through shared_preload_libraries: its settings,
 * hooks, shared memory and background workers can only be set up while the
 * postmaster starts. Loading it any other way is refused with a hint rather
 * than leaving a half-working extension behind.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "warden.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("warden must be loaded via shared_preload_libraries"),
				 errhint("Add warden to shared_preload_libraries in postgresql.conf and restart the server.")));

	warden_define_gucs();
}
