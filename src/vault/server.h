/*
 * server.h - start and stop floe-vault: main.c fills the configuration of a struct floe_vserver
 * (vctx.h) from the command line; floe_vserver_start() opens the data directory, sweeps
 * orphans, and starts the threads; floe_vserver_stop() stops them in reverse. This is the top
 * of the server's modules: nothing but main.c (and tests) includes it. For convenience it also
 * brings in the context, configuration and log headers main.c uses.
 *
 * Threads: start and stop are called from one thread (main's); after floe_vserver_start()
 * returns, cfg is read-only and the handles are used by the subsystems' own threads.
 */
#ifndef FLOE_VAULT_SERVER_H
#define FLOE_VAULT_SERVER_H

#include "vconfig.h"
#include "vctx.h"
#include "vlog.h"
#include "floe/error.h"

/*
 * floe_vserver_start() - open <data_dir> (created with its parents if missing), the database and
 * blob store, remove orphans of interrupted requests, start the scheduler, the notifier and HTTP.
 * srv      IN/OUT: cfg filled by the caller; the handles are set on FLOE_OK.
 * Returns  FLOE_OK, FLOE_E_IO (data dir), FLOE_E_NETWORK (cannot listen). On failure the
 *          directories this call created (and what was made in them) are removed again.
 */
int floe_vserver_start(struct floe_vserver *srv, struct floe_error *err);

/*
 * floe_vserver_start_local() - floe_vserver_start() without HTTP: no socket, no port; requests
 * are served in-process with floe_vdispatch_one() (vdispatch.h), e.g. by the fuzz target.
 * Same ownership and return values; stop with floe_vserver_stop().
 */
int floe_vserver_start_local(struct floe_vserver *srv, struct floe_error *err);

/* floe_vserver_stop() - stop HTTP, then jobs and notifier, then close stores. Idempotent. */
void floe_vserver_stop(struct floe_vserver *srv);

#endif
