/*
 * warden.c
 *		Entry point of the warden extension: _PG_init and the shared memory
 *		hooks.
 *
 * warden must be loaded through shared_preload_libraries: its settings,
 * hooks, shared memory and background workers can only be set up while the
 * postmaster starts. Loading it any other way is refused with a hint rather
 * than leaving a half-working extension behind.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "warden.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
warden_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	warden_failures_shmem_request();
	warden_outbox_shmem_request();
}

static void
warden_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	warden_failures_shmem_startup();
	warden_outbox_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("warden must be loaded via shared_preload_libraries"),
				 errhint("Add warden to shared_preload_libraries in postgresql.conf and restart the server.")));

	warden_define_gucs();
	warden_install_log_hook();
	warden_outbox_register_workers();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = warden_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = warden_shmem_startup;
}
